"""A new mapping of shared (decrypted) pages is created without pgprot_decrypted().

What it does
------------
Reports a call that maps pages into kernel or user address space (vmap(),
remap_pfn_range(), io_remap_pfn_range(), vm_map_pages(), vmf_insert_pfn(),
vm_insert_page(), dma_common_pages_remap(), ... from the API catalogue) when the pages
were converted to shared with set_memory_decrypted() — earlier on the same path, or by
another function of the file that keeps them in a struct field — and the protection is
not built with pgprot_decrypted(): neither the prot argument, nor a local prot variable
assigned in the function, nor (for calls that use the vma's protection) an assignment
to ``vma->vm_page_prot``.

Why is this bad?
----------------
set_memory_decrypted() converts only the kernel's direct map. Every other mapping of
the same pages gets its own page-table entries, and those carry the encryption bit
(C-bit on SEV, the shared bit cleared on TDX) unless the caller asks otherwise: reads
through them see ciphertext, writes corrupt what the host sees, and on TDX a private
mapping of a shared page is fatal. dma-direct does it right: vma->vm_page_prot =
pgprot_decrypted(...) for mmap, pgprot_decrypted(PAGE_KERNEL) for remaps.

Example
-------
```c
static void *demo_map_shared(struct page **pages, unsigned int count)
{
        unsigned int i;

        for (i = 0; i < count; i++) {
                if (set_memory_decrypted((unsigned long)page_address(pages[i]), 1))
                        return NULL;
        }
        return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}
```

Use instead
-----------
```c
static void *demo_map_shared(struct page **pages, unsigned int count)
{
        unsigned int i;

        for (i = 0; i < count; i++) {
                if (set_memory_decrypted((unsigned long)page_address(pages[i]), 1))
                        return NULL;
        }
        return vmap(pages, count, VM_MAP, pgprot_decrypted(PAGE_KERNEL));
}
```

Known false positives
---------------------
Pages are matched by the root name of the argument (``pages``, ``page``, ``buf``), and
across functions by struct field name only. A protection value computed by a helper in
another file (dma_pgprot() applies pgprot_decrypted() itself) is not seen through unless
the helper's result is assigned in the function with pgprot_decrypted() visible.

References
----------
Jiri Pirko, dma-buf system_cc_shared heap (v5): every new mapping of shared pages,
vmap or user mmap, must have the encryption bit cleared; kernel/dma/direct.c
dma_direct_mmap() and atomic_pool_expand() use pgprot_decrypted().
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse.coco import (
    decrypted_memory,
    file_hits,
    mentions_conversion,
    names_a_field,
    prot_is_decrypted,
)
from patchbot.cparse.functions import analyze_file

RULE = Rule(
    id="shared-mapping-encrypted",
    severity=Severity.ERROR,
    scope="file",
    summary="mapping of pages made shared by set_memory_decrypted() lacks pgprot_decrypted()",
    confidence="high",
)


def _fix(event_name: str, has_prot: bool) -> str:
    if has_prot:
        return f"pass pgprot_decrypted(prot) as the protection to {event_name}()"
    return f"set vma->vm_page_prot = pgprot_decrypted(vma->vm_page_prot) before {event_name}()"


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not mentions_conversion(ctx.file.text):
        return
    fa = analyze_file(ctx.file.text)
    reported: set[int] = set()
    for func, hit in file_hits(ctx.file.text):
        event = hit.event
        if event.kind != "mapping" or event.line in reported:
            continue
        if hit.current.entry.direction != "decrypt" or hit.status == "failed":
            continue
        if prot_is_decrypted(func, event, fa.catalogue):
            continue
        reported.add(event.line)
        yield ctx.finding(
            f"{event.name}() maps pages that {hit.current.name}() made shared, but without "
            f"pgprot_decrypted(): accesses through this mapping use the private encoding",
            event.line,
            function=func.display_name,
            trace=hit.trace(ctx.file.path, func.display_name),
            suggestion=_fix(event.name, event.entry.prot >= 0),
        )
    kept = decrypted_memory(ctx.file.text)
    for func in fa.functions:
        for event in func.events_of("mapping"):
            origin = kept.get(event.key or "") if names_a_field(event) else None
            if origin is None or origin.function == func.name or event.line in reported:
                continue
            if prot_is_decrypted(func, event, fa.catalogue):
                continue
            reported.add(event.line)
            yield ctx.finding(
                f"{origin.function}() makes ->{origin.key} shared; should {event.name}() "
                f"map it with pgprot_decrypted()?",
                event.line,
                function=func.display_name,
                severity=Severity.WARNING,
                related=[
                    Location(
                        ctx.file.path,
                        origin.line,
                        function=origin.function,
                        note=f"->{origin.key} made shared here",
                    )
                ],
                suggestion=_fix(event.name, event.entry.prot >= 0),
            )
