"""Pages that were made shared are freed without being made private again.

What it does
------------
Reports a free of memory (__free_pages(), free_pages(), kfree(), vfree(),
dma_free_contiguous(), ... from the API catalogue, and same-file helpers that free) on a
path where the memory was converted to shared with set_memory_decrypted() (or
dma_set_decrypted(), or a same-file helper returning its result) and no
set_memory_encrypted() of it lies between the two.

Across functions of one file, as a heuristic: when one function decrypts memory and
keeps it in a struct field (``priv->buf = vaddr``, or decrypts ``priv->buf`` directly,
or hands it to a helper of the file that shares it and returns nonzero on failure), a
free of that field in another function that never re-encrypts it and tests no
shared-state flag (``->decrypted``) is reported as a question.  A call to a same-file
teardown that frees file-scope memory is left to leak-on-failure.

Why is this bad?
----------------
Only the kernel's direct map is converted; the page allocator assumes every free page
is private. A shared page handed back to it is reused by the next allocation as if it
were private: its contents are visible to (and writable by) the host, and on TDX a
private mapping of a shared page makes the guest crash on access. Shared memory must be
converted back with set_memory_encrypted() before the free, and leaked if that fails.

Example
-------
```c
static void demo_bounce_free(void *vaddr, unsigned int order)
{
        if (set_memory_decrypted((unsigned long)vaddr, 1 << order))
                return;
        memset(vaddr, 0, PAGE_SIZE << order);
        free_pages((unsigned long)vaddr, order);
}
```

Use instead
-----------
```c
static void demo_bounce_free(void *vaddr, unsigned int order)
{
        if (set_memory_decrypted((unsigned long)vaddr, 1 << order))
                return;
        memset(vaddr, 0, PAGE_SIZE << order);
        if (set_memory_encrypted((unsigned long)vaddr, 1 << order))
                return;
        free_pages((unsigned long)vaddr, order);
}
```

Known false positives
---------------------
Memory is matched by the root name of the argument, so a free of another object with
the same name is reported. The cross-function check matches struct fields by name only
and does not see a re-encryption done by a caller or by a helper in another file.

References
----------
MODEL-FACTS-style page-state rule: a SHARED page must never reach the allocator; the
"Callers need to take care ... to avoid returning decrypted (shared) memory to the page
allocator" paragraph of the 2024 leak fixes (dma-direct, hv/vmbus, swiotlb); vmbus
``gpadl.decrypted`` tracking for frees in release paths.
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse.coco import converts_key, decrypted_memory, file_hits, names_a_field
from patchbot.cparse.exprs import text_of
from patchbot.cparse.functions import Function, analyze_file

RULE = Rule(
    id="free-while-shared",
    severity=Severity.ERROR,
    scope="file",
    summary="memory converted to shared is freed without set_memory_encrypted() first",
    confidence="high",
)


def _same_function(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    seen: set[int] = set()
    for func, hit in file_hits(ctx.file.text):
        if hit.event.kind != "free" or hit.event.line in seen:
            continue
        if hit.current.entry.direction != "decrypt" or hit.status == "failed":
            continue
        if hit.event.entry.frees_keys:
            continue  # a same-file teardown freeing file-scope memory: it re-encrypts or
            # not itself, and leak-on-failure judges it there
        seen.add(hit.event.line)
        how = "after" if hit.status == "ok" else "after calling"
        yield ctx.finding(
            f"{hit.event.name}() frees memory that is still shared with the host {how} "
            f"{hit.current.name}(); convert it back with set_memory_encrypted() first and "
            f"leak it if that fails",
            hit.event.line,
            function=func.display_name,
            trace=hit.trace(ctx.file.path, func.display_name),
            suggestion="if (set_memory_encrypted(addr, npages)) return; /* leak */",
        )


_STATE_WORDS = ("decrypt", "shared", "unencrypt")


def _tracks_shared_state(func: Function) -> bool:
    """Does a branch test a struct flag like ->decrypted or ->cc_shared?  Such code
    (the vmbus gpadl fix) frees only when the flag says the memory is private."""
    whole = (func.node.text or b"").lower()
    if not any(w.encode() in whole for w in _STATE_WORDS):
        return False  # no condition of the function can spell one of the words
    for node in func.cfg.nodes:
        if node.kind != "cond" or node.ast is None:
            continue
        lowered = text_of(node.ast).lower()
        if not any(w in lowered for w in _STATE_WORDS):
            continue  # no identifier in this condition can hold one of the words
        stack = [node.ast]
        while stack:
            cur = stack.pop()
            if cur.type == "field_identifier" and any(
                w in text_of(cur).lower() for w in _STATE_WORDS
            ):
                return True
            stack.extend(cur.named_children)
    return False


def _across_functions(ctx: Context, already: set[int]) -> Iterable[Finding]:
    assert ctx.file is not None
    kept = decrypted_memory(ctx.file.text)
    if not kept:
        return
    for func in analyze_file(ctx.file.text).functions:
        if not func.events_of("free") or _tracks_shared_state(func):
            continue
        for event in func.events_of("free"):
            origin = kept.get(event.key or "") if names_a_field(event) else None
            if origin is None or origin.function == func.name or event.line in already:
                continue
            if converts_key(func, event.key, "encrypt") or converts_key(func, event.key, "decrypt"):
                continue
            yield ctx.finding(
                f"{origin.function}() makes ->{origin.key} shared with set_memory_decrypted(); "
                f"is it converted back to private before {event.name}() frees it here?",
                event.line,
                function=func.display_name,
                related=[
                    Location(
                        ctx.file.path,
                        origin.line,
                        function=origin.function,
                        note=f"->{origin.key} made shared here",
                    )
                ],
                severity=Severity.WARNING,
            )


def check(ctx: Context) -> Iterable[Finding]:
    findings = list(_same_function(ctx))
    yield from findings
    yield from _across_functions(ctx, {f.line for f in findings})
