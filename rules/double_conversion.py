"""A path can convert memory that is already private (or shared) a second time.

What it does
------------
Flags two shapes:

* In a memory notifier, MEM_GOING_ONLINE (or MEM_ONLINE) makes memory private with
  set_memory_encrypted(), directly or through same-file helpers, but neither MEM_OFFLINE
  nor MEM_GOING_OFFLINE converts it back to shared. Offlining and re-onlining the block
  then encrypts (TDX: accepts) the same pages again.
* Within one function, two set_memory_encrypted() (or two set_memory_decrypted()) calls on
  the same address expression on one path, with no opposite conversion of that address in
  between. Calls in different arms of an if/else or switch, or separated by a return or
  goto, are not on one path.

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

import re
from collections.abc import Iterable

from patchbot import cocoutil
from patchbot.api import Context, Finding, Location, Rule, Severity

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
    if not cocoutil.mentions_conversion(ctx.file.text):
        return
    cf = cocoutil.cfile(ctx.file.text)
    for func in cf.functions.values():
        if "MEM_GOING_ONLINE" in cocoutil.text_of(func.node):
            yield from _notifier(ctx, cf, func)
        yield from _same_path_pairs(ctx, func)


def _notifier(ctx: Context, cf: cocoutil.CFile, func: cocoutil.Function) -> Iterable[Finding]:
    assert ctx.file is not None
    for switch in cocoutil.switches(func.node):
        if not ctx.file.complete and cocoutil.has_unknown_lines(ctx.file.text, switch):
            continue  # an offline case the diff does not show may share the block again
        cases = cocoutil.cases_of_switch(switch)
        encrypting = [
            (label, call)
            for label in ONLINE_CASES
            for case in cases.get(label, [])
            for call in cocoutil.calls_inside(func, case)
            if cocoutil.ENC in cf.call_directions(call)
        ]
        if not encrypting:
            continue
        offline_dirs: set[str] = set()
        for label in OFFLINE_CASES:
            for case in cases.get(label, []):
                for call in cocoutil.calls_inside(func, case):
                    offline_dirs |= cf.call_directions(call)
        if cocoutil.DEC in offline_dirs:
            continue
        label, call = encrypting[0]
        via = "" if cocoutil.direction_of(call.name) else f" through {call.name}()"
        yield ctx.finding(
            f"{func.name}() makes the block private in {label}{via}, but nothing in "
            "MEM_OFFLINE/MEM_GOING_OFFLINE shares it again; after offline and re-online, "
            "does set_memory_encrypted() accept already-private pages a second time?",
            call.line,
            function=func.name,
            suggestion="convert the block back in MEM_OFFLINE, or track which blocks are "
            "already private",
        )


def _same_path_pairs(ctx: Context, func: cocoutil.Function) -> Iterable[Finding]:
    direct = [
        (c, cocoutil.direction_of(c.name), cocoutil.address_arg(c))
        for c in func.calls
        if cocoutil.direction_of(c.name) and cocoutil.address_arg(c)
    ]
    reported: set[int] = set()
    for i, (first, direction, addr) in enumerate(direct):
        for second, direction2, addr2 in direct[i + 1 :]:
            if addr2 != addr:
                continue
            if direction2 != direction:
                break  # converted back in between: the pair is fine
            if second.line in reported or not _same_path(first, second):
                continue
            reported.add(second.line)
            yield ctx.finding(
                f"{func.name}() calls {second.name}({addr}) again after {first.name}() on "
                f"line {first.line} with no opposite conversion in between; is this memory "
                "converted twice?",
                second.line,
                function=func.name,
                related=[
                    Location(
                        ctx.file.path if ctx.file else "",
                        first.line,
                        function=func.name,
                        note="first conversion",
                    )
                ],
            )


def _same_path(first: cocoutil.Call, second: cocoutil.Call) -> bool:
    if cocoutil.exclusive_branches(first.node, second.node):
        return False
    # Does the first call sit in a block that leaves (return/goto/break) before the second?
    second_ancestors = set(cocoutil.ancestors(second.node))
    for block in cocoutil.ancestors(first.node):
        if block in second_ancestors:
            break
        if block.type != "compound_statement" and block.type != "if_statement":
            continue
        tail = cocoutil.text_of(block)[first.node.end_byte - block.start_byte :]
        if re.search(r"\b(return|goto|break|continue)\b", tail):
            return False
    return True
