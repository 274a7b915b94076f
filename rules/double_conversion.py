"""A path can convert memory that is already private (or shared) a second time.

What it does
------------
Flags two shapes:

* In a memory notifier, MEM_GOING_ONLINE (or MEM_ONLINE) makes memory private with
  set_memory_encrypted(), directly or through same-file helpers, but neither MEM_OFFLINE
  nor MEM_GOING_OFFLINE converts it back to shared. Offlining and re-onlining the block
  then encrypts (TDX: accepts) the same pages again.
* Within one function, two set_memory_encrypted() (or two set_memory_decrypted()) calls,
  or calls of same-file helpers that wrap them, on the same address expression with a
  path from the first to the second in the function's control-flow graph that converts
  that memory nowhere in between. Calls in different arms of an if/else or switch, or
  separated by a return or goto on every path, are not on one path; a second call only
  reached when the first failed is a retry and is not reported.

Why is this bad?
----------------
On TDX, encrypting private memory means a second TDG.MEM.PAGE.ACCEPT of a page that is
already MAPPED. The module answers TDX_PAGE_ALREADY_ACCEPTED and Linux treats any non-zero
status as failure: set_memory_encrypted() fails (the caller leaks or unwinds) and in the
unaccepted-memory path the kernel panics. A conversion also destroys contents on a
KVM/QEMU host, so a second one wipes live data.

Example
-------
```c
static int vm_memory_notifier_cb(struct notifier_block *nb, unsigned long action,
                                        void *arg)
{
        struct memory_notify *mhp = arg;
        unsigned long addr = (unsigned long)__va(PFN_PHYS(mhp->start_pfn));
        int rc = NOTIFY_OK;

        switch (action) {
        case MEM_GOING_ONLINE:
                if (set_memory_encrypted(addr, mhp->nr_pages))
                        rc = NOTIFY_BAD;
                break;
        case MEM_CANCEL_ONLINE:
                if (set_memory_decrypted(addr, mhp->nr_pages))
                        pr_warn("leaking block that could not be shared again\n");
                break;
        case MEM_OFFLINE:
                pr_info("block offline\n");
                break;
        default:
                break;
        }
        return rc;
}
```

Use instead
-----------
```c
static int vm_memory_notifier_cb(struct notifier_block *nb, unsigned long action,
                                        void *arg)
{
        struct memory_notify *mhp = arg;
        unsigned long addr = (unsigned long)__va(PFN_PHYS(mhp->start_pfn));
        int rc = NOTIFY_OK;

        switch (action) {
        case MEM_GOING_ONLINE:
                if (set_memory_encrypted(addr, mhp->nr_pages))
                        rc = NOTIFY_BAD;
                break;
        case MEM_CANCEL_ONLINE:
        case MEM_OFFLINE:
                if (set_memory_decrypted(addr, mhp->nr_pages))
                        pr_warn("leaking block that could not be shared again\n");
                break;
        default:
                break;
        }
        return rc;
}
```

Known false positives
---------------------
When only diff hunks are known (no tree), a switch with lines the diff does not show is
skipped. State kept outside the notifier (a per-block "accepted" bitmap tested before converting)
is not understood; the notifier shape is flagged anyway. Two calls on the same expression
whose value changed in between (``addr += size``) are treated as the same address.

References
----------
MODEL-FACTS §4 (TDG.MEM.PAGE.ACCEPT on a MAPPED page, try_accept_one() treating it as
failure); "[PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments",
point 3 of the commit message (offline then re-online accepts again) and its review.
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse import placement
from patchbot.cparse.coco import file_hits
from patchbot.cparse.functions import MemEvent

RULE = Rule(
    id="double-conversion",
    severity=Severity.WARNING,
    scope="file",
    summary="memory already private (or shared) can be converted again on some path",
    confidence="heuristic",
)

ONLINE_CASES = ("MEM_GOING_ONLINE", "MEM_ONLINE")
OFFLINE_CASES = ("MEM_OFFLINE", "MEM_GOING_OFFLINE")


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not placement.mentions_conversion(ctx.file.text):
        return
    if "MEM_GOING_ONLINE" in ctx.file.text:  # only notifiers need the syntactic view
        cf = placement.cfile(ctx.file.text)
        for func in cf.functions.values():
            if "MEM_GOING_ONLINE" in placement.text_of(func.node):
                yield from _notifier(ctx, cf, func)
    yield from _same_path_pairs(ctx)


def _notifier(ctx: Context, cf: placement.CFile, func: placement.Function) -> Iterable[Finding]:
    assert ctx.file is not None
    for switch in placement.switches(func.node):
        if not ctx.file.complete and placement.has_unknown_lines(ctx.file.text, switch):
            continue  # an offline case the diff does not show may share the block again
        cases = placement.cases_of_switch(switch)
        encrypting = [
            (label, call)
            for label in ONLINE_CASES
            for case in cases.get(label, [])
            for call in placement.calls_inside(func, case)
            if placement.ENC in cf.call_directions(call)
        ]
        if not encrypting:
            continue
        offline_dirs: set[str] = set()
        for label in OFFLINE_CASES:
            for case in cases.get(label, []):
                for call in placement.calls_inside(func, case):
                    offline_dirs |= cf.call_directions(call)
        if placement.DEC in offline_dirs:
            continue
        label, call = encrypting[0]
        via = "" if placement.direction_of(call.name) else f" through {call.name}()"
        yield ctx.finding(
            f"{func.name}() makes the block private in {label}{via}, but nothing in "
            "MEM_OFFLINE/MEM_GOING_OFFLINE shares it again; after offline and re-online, "
            "does set_memory_encrypted() accept already-private pages a second time?",
            call.line,
            function=func.name,
            suggestion="convert the block back in MEM_OFFLINE, or track which blocks are "
            "already private",
        )


def _same_path_pairs(ctx: Context) -> Iterable[Finding]:
    """Two same-direction conversions of one address with a CFG path between them.

    The path question goes to the CFG: follow_conversion() (through the cached
    file_hits()) walks every path from a conversion and reports each later call on the
    same memory with the conversion that governs it there.  A second conversion of the
    same direction whose governing conversion is still the first (nothing converted that
    memory in between) is the double conversion.  Paths where the first one failed are
    skipped: retrying a failed conversion is not converting twice.  The addresses must
    also be spelled the same (casts aside): the CFG's memory keys are coarser (``addr``
    and ``addr + PAGE_SIZE`` share one).
    """
    assert ctx.file is not None
    reported: set[int] = set()
    for func, hit in file_hits(ctx.file.text):  # every conversion's paths, computed once
        first, second = hit.start, hit.event
        if (
            second.kind != "conversion"
            or hit.current is not first
            or hit.status == "failed"
            or second.entry.direction != first.entry.direction
            or second.line in reported
        ):
            continue
        addr = _address(first)
        if not addr or _address(second) != addr:
            continue
        reported.add(second.line)
        yield ctx.finding(
            f"{func.display_name or 'this code'}() calls {second.name}({addr}) again "
            f"after {first.name}() on line {first.line} with no opposite conversion in "
            "between; is this memory converted twice?",
            second.line,
            function=func.display_name,
            related=[
                Location(
                    ctx.file.path,
                    first.line,
                    function=func.display_name,
                    note="first conversion",
                )
            ],
            trace=hit.trace(ctx.file.path, func.display_name),
        )


def _address(event: MemEvent) -> str:
    """The converted address as written, casts and blanks removed ('' when unknown)."""
    arg = event.call.arg(event.entry.arg)
    return placement.strip_casts(placement.text_of(arg)) if arg is not None else ""
