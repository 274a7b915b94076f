"""A memory notifier converts memory in MEM_GOING_ONLINE but MEM_CANCEL_ONLINE does not undo it.

What it does
------------
For every ``switch`` on memory-notifier actions, collects the conversions of the
MEM_GOING_ONLINE case (set_memory_encrypted()/decrypted(), directly or through same-file
helpers, followed transitively). If no conversion in the opposite direction is reachable
in the function's control-flow graph from ``case MEM_CANCEL_ONLINE:`` (its own statements,
a case it falls through into, or code after the switch that it reaches), the conversion is
flagged. The same pairing is checked for MEM_GOING_OFFLINE and MEM_CANCEL_OFFLINE.

Why is this bad?
----------------
When another notifier on the chain refuses the block, the core sends MEM_CANCEL_ONLINE and
the block stays offline. Pages accepted (made private) in MEM_GOING_ONLINE stay private;
the next online attempt accepts them again, which TDX turns into a failure (Linux panics in
the unaccepted-memory path and set_memory_encrypted() fails in the conversion path). The
cancel case has to undo exactly the work its GOING case did.

Example
-------
```c
static int vm_memory_notifier_cb(struct notifier_block *nb, unsigned long action,
                                        void *arg)
{
        struct memory_notify *mhp = arg;
        unsigned long start = PFN_PHYS(mhp->start_pfn);
        unsigned long size = PFN_PHYS(mhp->nr_pages);
        int rc = NOTIFY_OK;

        switch (action) {
        case MEM_GOING_ONLINE:
                if (set_memory_encrypted((unsigned long)__va(start), PFN_DOWN(size)))
                        rc = NOTIFY_BAD;
                break;
        case MEM_CANCEL_ONLINE:
                mutex_unlock(&vm_hotplug_mutex);
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
static void vm_undo_accept(unsigned long start, unsigned long size)
{
        if (set_memory_decrypted((unsigned long)__va(start), PFN_DOWN(size)))
                pr_warn("leaking memory that could not be shared again\n");
}

static int vm_memory_notifier_cb(struct notifier_block *nb, unsigned long action,
                                        void *arg)
{
        struct memory_notify *mhp = arg;
        unsigned long start = PFN_PHYS(mhp->start_pfn);
        unsigned long size = PFN_PHYS(mhp->nr_pages);
        int rc = NOTIFY_OK;

        switch (action) {
        case MEM_GOING_ONLINE:
                if (set_memory_encrypted((unsigned long)__va(start), PFN_DOWN(size)))
                        rc = NOTIFY_BAD;
                break;
        case MEM_CANCEL_ONLINE:
                vm_undo_accept(start, size);
                mutex_unlock(&vm_hotplug_mutex);
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
skipped: the missing lines may hold the undo.

Undo work done through a function pointer, a workqueue or a helper in another file is
not seen. Reachability is not path-sensitive: an undo after the switch that only runs for
another action (``if (action == MEM_OFFLINE)``) still counts as reachable from the cancel
case, so that cancel case is not reported. A notifier that deliberately keeps the pages
converted after a cancel (and records that, so the next online does not convert again)
will be flagged; say so in a comment and suppress the finding.

References
----------
MODEL-FACTS §11 (MEM_CANCEL_ONLINE only drops the mutex in the baseline driver) and §4
(double accept); David Hildenbrand's review of "[PATCH RFC] virtio-mem: support
Confidential Computing (CoCo) environments" (2026-04-01).
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse import Node, placement
from patchbot.cparse.functions import Function, analyze_file

RULE = Rule(
    id="cancel-without-undo",
    severity=Severity.WARNING,
    scope="file",
    summary="conversion in MEM_GOING_ONLINE is not undone in MEM_CANCEL_ONLINE",
    confidence="heuristic",
)

PAIRS = (("MEM_GOING_ONLINE", "MEM_CANCEL_ONLINE"), ("MEM_GOING_OFFLINE", "MEM_CANCEL_OFFLINE"))


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not placement.mentions_conversion(ctx.file.text):
        return
    if "MEM_GOING_" not in ctx.file.text:
        return
    cf = placement.cfile(ctx.file.text)
    fa = analyze_file(ctx.file.text)
    for func in cf.functions.values():
        cfg_func = next((f for f in fa.functions if f.start_line == func.start_line), None)
        for switch in placement.switches(func.node):
            if not ctx.file.complete and placement.has_unknown_lines(ctx.file.text, switch):
                continue  # a case the diff does not show may well do the conversion
            cases = placement.cases_of_switch(switch)
            for going, cancel in PAIRS:
                undone = _reachable_directions(cf, func, cfg_func, switch, cancel)
                yield from _check_pair(ctx, cf, func, cases, going, cancel, undone)


def _reachable_directions(
    cf: placement.CFile,
    func: placement.Function,
    cfg_func: Function | None,
    switch: Node,
    cancel: str,
) -> set[str]:
    """Conversion directions reachable in the CFG from ``case <cancel>:`` of ``switch``:
    its own statements, a case it falls through into, and the code after the switch
    (same-file helpers are followed to what they convert)."""
    if cfg_func is None:
        return set()
    first, last = switch.start_point[0] + 1, switch.end_point[0] + 1
    starts = [
        node.id
        for node in cfg_func.cfg.nodes
        if node.kind == "case" and node.label == f"case {cancel}" and first <= node.line <= last
    ]
    reachable: set[int] = set()
    for start in starts:
        reachable |= cfg_func.cfg.reachable_from(start)
    found: set[str] = set()
    for nid, call in cfg_func.calls():
        if nid not in reachable:
            continue
        direct = placement.direction_of(call.name)
        if direct:
            found.add(direct)
        elif call.name in cf.functions and call.name != func.name:
            found |= cf.directions(call.name)
    return found


def _check_pair(
    ctx: Context,
    cf: placement.CFile,
    func: placement.Function,
    cases: dict[str, list],
    going: str,
    cancel: str,
    undone: set[str],
) -> Iterable[Finding]:
    going_calls = [
        (call, dirs)
        for case in cases.get(going, [])
        for call in placement.calls_inside(func, case)
        if (dirs := cf.call_directions(call))
    ]
    if not going_calls:
        return
    cancel_line = cases[cancel][0].start_point[0] + 1 if cancel in cases else None
    reported: set[str] = set()
    for call, dirs in going_calls:
        for direction in sorted(dirs):
            if placement.opposite(direction) in undone or direction in reported:
                continue
            reported.add(direction)
            what = "made private" if direction == placement.ENC else "made shared"
            via = "" if placement.direction_of(call.name) else f" (through {call.name}())"
            where = (
                f"the {cancel} case does not convert it back"
                if cancel_line
                else f"there is no {cancel} case"
            )
            related = (
                [
                    Location(
                        ctx.file.path if ctx.file else "",
                        cancel_line,
                        function=func.name,
                        note=f"{cancel} handled here",
                    )
                ]
                if cancel_line
                else []
            )
            yield ctx.finding(
                f"{func.name}() leaves memory {what} in {going}{via} but {where}; after a "
                f"cancel, does the next {going} convert the same pages again?",
                call.line,
                function=func.name,
                related=related,
                suggestion=f"undo the {going} conversion in {cancel}",
            )
