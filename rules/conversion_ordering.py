"""A set_memory-style encryption transition does its steps in an unsafe order.

What it does
------------
Checks functions that implement an encryption-state transition: they change the page
attributes with ``__change_page_attr_set_clr()`` and notify the hypervisor through an
``enc_status_change_prepare()``/``enc_status_change_finish()`` hook. In source order:

1. aliases are removed (``vm_unmap_aliases()``) before the attribute change;
2. a cache/TLB flush (``cpa_flush()``) comes before the attribute change;
3. the "prepare" notification comes before the attribute change;
4. the "finish" notification comes after the attribute change, with a ``cpa_flush()``
   between the change and the notification;
5. when the function marks the range not present (``set_memory_np()`` ... ``set_memory_p()``,
   the Hyper-V/paravisor scheme), every hypervisor notification sits between the two.

Nothing else is encoded: only the orderings the x86 implementation documents.

Why is this bad?
----------------
Only the direct map is converted, so a surviving vmap alias keeps the old encryption
attribute. Dirty cache lines written back after the change corrupt the page under its new
key. On TDX the "finish" hook performs MapGPA(shared) for a private->shared change: if the
host is told before the PTE is cleared and the TLB flushed, a private mapping points at a
shared page, which is an unrecoverable exit, not a #VE. With the not-present scheme a
notification outside the np/p window lets load_unaligned_zeropad() hit a transitioning
page that the paravisor cannot fix up.

Example
-------
```c
static int enc_dec_pgtable(unsigned long addr, int numpages, bool enc)
{
        struct cpa_data cpa = { .vaddr = &addr, .numpages = numpages };
        int ret;

        vm_unmap_aliases();
        cpa_flush(&cpa, 1);
        if (!x86_platform.guest.enc_status_change_prepare(addr, numpages, enc))
                return -EIO;
        if (!x86_platform.guest.enc_status_change_finish(addr, numpages, enc))
                return -EIO;
        ret = __change_page_attr_set_clr(&cpa, 1);
        cpa_flush(&cpa, 0);
        return ret;
}
```

Use instead
-----------
```c
static int enc_dec_pgtable(unsigned long addr, int numpages, bool enc)
{
        struct cpa_data cpa = { .vaddr = &addr, .numpages = numpages };
        int ret;

        vm_unmap_aliases();
        cpa_flush(&cpa, 1);
        if (!x86_platform.guest.enc_status_change_prepare(addr, numpages, enc))
                return -EIO;
        ret = __change_page_attr_set_clr(&cpa, 1);
        cpa_flush(&cpa, 0);
        if (ret)
                return ret;
        if (!x86_platform.guest.enc_status_change_finish(addr, numpages, enc))
                return -EIO;
        return 0;
}
```

Known false positives
---------------------
Order is taken from the source text of one function: a step done in a helper, or steps in
different branches, are not followed. Kelley's 2023 proposal to clear PRESENT inside the
generic function and merge the two hooks is not a required order: the rule does not ask
for set_memory_np(), only checks the window when it is used. SEV-SNP's own ordering of
PVALIDATE and page-state change is unverified in our sources and not checked.

References
----------
Michael Kelley, "[PATCH v2 0/8] x86/coco: Mark CoCo VM pages not present when changing
encrypted state" (2023-11-21) and the merged v4; commit 195edce08b63 "x86/tdx: Fix race
between set_memory_encrypted() and load_unaligned_zeropad()"; MODEL-FACTS §2, §2a, §6.
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse import placement

RULE = Rule(
    id="conversion-ordering",
    severity=Severity.ERROR,
    scope="file",
    summary="encryption transition removes aliases, flushes and notifies the host out of order",
    confidence="high",
)

PTE_CHANGE = "__change_page_attr_set_clr"
PREPARE = "enc_status_change_prepare"
FINISH = "enc_status_change_finish"
NOTIFY = (PREPARE, FINISH)


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if PTE_CHANGE not in ctx.file.text:
        return
    cf = placement.cfile(ctx.file.text)
    for func in cf.functions.values():
        first = _first_lines(func)
        if PTE_CHANGE not in first or not any(n in first for n in NOTIFY):
            continue
        yield from _check_order(ctx, func, first)


def _first_lines(func: placement.Function) -> dict[str, list[int]]:
    lines: dict[str, list[int]] = {}
    for call in func.calls:
        lines.setdefault(call.name, []).append(call.line)
    return lines


def _check_order(
    ctx: Context, func: placement.Function, lines: dict[str, list[int]]
) -> Iterable[Finding]:
    change = lines[PTE_CHANGE][0]
    path = ctx.file.path if ctx.file else ""
    change_loc = [Location(path, change, function=func.name, note="PTE attribute change")]

    def finding(message: str, line: int) -> Finding:
        return ctx.finding(message, line, function=func.name, related=change_loc)

    aliases = lines.get("vm_unmap_aliases", [])
    if not any(a < change for a in aliases):
        yield finding(
            f"{func.name}() changes the encryption attribute without vm_unmap_aliases() "
            "first; lazy vmap aliases keep the old attribute for the same pages.",
            aliases[0] if aliases else change,
        )
    flushes = lines.get("cpa_flush", [])
    if not any(f < change for f in flushes):
        yield finding(
            f"{func.name}() does not flush caches (cpa_flush()) before changing the "
            "encryption attribute; dirty lines written back later corrupt the page.",
            change,
        )
    for prep in lines.get(PREPARE, []):
        if prep > change:
            yield finding(
                f"{func.name}() calls {PREPARE}() after the PTE change; the hypervisor must "
                "hear about a shared->private change before the PTE becomes private.",
                prep,
            )
    for fin in lines.get(FINISH, []):
        if fin < change:
            yield finding(
                f"{func.name}() calls {FINISH}() before the PTE change; on private->shared "
                "the host would see the page shared while a private mapping still points "
                "at it.",
                fin,
            )
        elif not any(change < f < fin for f in flushes):
            yield finding(
                f"{func.name}() calls {FINISH}() without a TLB flush (cpa_flush()) after the "
                "PTE change; stale private TLB entries can still reach the page.",
                fin,
            )
    not_present, present = lines.get("set_memory_np", []), lines.get("set_memory_p", [])
    if not_present and present:
        for name in NOTIFY:
            for line in lines.get(name, []):
                if not (min(not_present) < line < max(present)):
                    yield finding(
                        f"{func.name}() calls {name}() outside the set_memory_np()/"
                        "set_memory_p() window; load_unaligned_zeropad() can touch the "
                        "page while it is present and transitioning.",
                        line,
                    )
