"""virtio-mem converts a whole memory block although only plugged subblocks are backed.

What it does
------------
In virtio-mem code, flags a memory conversion (set_memory_encrypted()/decrypted() or a
same-file helper that makes one) whose range is a whole memory block:

* the address is ``virtio_mem_mb_id_to_phys(mb_id)`` with no subblock offset, or the size
  is ``memory_block_size_bytes()``, outside a loop gated by
  ``virtio_mem_sbm_test_sb_plugged()``;
* in a memory notifier case (MEM_GOING_ONLINE, MEM_CANCEL_ONLINE, MEM_OFFLINE, ...), a
  conversion of the notifier's block range (``start``/``size``) that is not confined to
  the big-block-mode branch (``if (!vm->in_sbm)`` or the ``else`` of ``if (vm->in_sbm)``).

Why is this bad?
----------------
In sub-block mode only the subblocks the device acknowledged as plugged have host backing.
Converting an unplugged subblock asks the host to map or accept memory it never provided:
TDX accept of such a range fails or exits to the host with an EPT violation, and with
VFIO on the host unplugged memory is not even mapped. Convert per plugged subblock only.

Example
-------
```c
static int vm_sbm_accept_block(struct virtio_mem *vm, unsigned long mb_id)
{
        return set_memory_encrypted((unsigned long)__va(virtio_mem_mb_id_to_phys(mb_id)),
                                        PFN_DOWN(memory_block_size_bytes()));
}
```

Use instead
-----------
```c
static int vm_sbm_accept_block(struct virtio_mem *vm, unsigned long mb_id)
{
        const u64 sb_size = vm->sbm.sb_size;
        int sb_id, rc;

        for (sb_id = 0; sb_id < vm->sbm.sbs_per_mb; sb_id++) {
                u64 addr = virtio_mem_mb_id_to_phys(mb_id) + sb_id * sb_size;

                if (!virtio_mem_sbm_test_sb_plugged(vm, mb_id, sb_id, 1))
                        continue;
                rc = set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(sb_size));
                if (rc)
                        return rc;
        }
        return 0;
}
```

Known false positives
---------------------
Big-block mode plugs whole blocks, so whole-block conversions there are fine; the rule
recognises BBM only through ``vm->in_sbm`` tests, ``bbm`` in the function name and calls of
``virtio_mem_bbm_*`` helpers. A
caller that has already checked every subblock of the block is plugged
(``virtio_mem_sbm_test_sb_plugged(vm, mb_id, 0, vm->sbm.sbs_per_mb)``) is accepted.

References
----------
David Hildenbrand's review of "[PATCH RFC] virtio-mem: support Confidential Computing (CoCo)
environments" (2026-04-01); MODEL-FACTS §4 (hot-add memory not backed yet must not be
accepted) and §8/§11 (only plugged memory is backed and mapped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.cparse import placement

RULE = Rule(
    id="convert-unplugged-range",
    severity=Severity.WARNING,
    scope="file",
    summary="virtio-mem conversion covers a whole memory block including unplugged subblocks",
    confidence="heuristic",
)

NOTIFIER_CASES = frozenset(
    {
        "MEM_GOING_ONLINE",
        "MEM_CANCEL_ONLINE",
        "MEM_ONLINE",
        "MEM_GOING_OFFLINE",
        "MEM_OFFLINE",
        "MEM_CANCEL_OFFLINE",
    }
)
WHOLE_BLOCK_RE = re.compile(r"memory_block_size_bytes\s*\(")
BLOCK_BASE_RE = re.compile(r"virtio_mem_mb_id_to_phys\s*\(")
SUBBLOCK_RE = re.compile(r"\bsb_|sb_size|sb_id")
PLUGGED_TEST_RE = re.compile(r"virtio_mem_sbm_test_sb_plugged\s*\(")


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not placement.mentions_conversion(ctx.file.text):
        return
    if "virtio_mem" not in ctx.file.text:
        return
    cf = placement.cfile(ctx.file.text)
    for func in cf.functions.values():
        if "bbm" in func.name or any("_bbm_" in c.name for c in func.calls):
            continue  # big-block mode: whole blocks are plugged
        for call, _dirs in cf.conversion_calls(func):
            message = _whole_block(func, call) or _notifier_block(func, call)
            if message:
                yield ctx.finding(
                    message,
                    call.line,
                    function=func.name,
                    suggestion="convert only the plugged subblocks "
                    "(loop with virtio_mem_sbm_test_sb_plugged())",
                )


def _whole_block(func: placement.Function, call: placement.Call) -> str | None:
    args = " ".join(call.args)
    address = call.args[0] if call.args else ""
    whole = WHOLE_BLOCK_RE.search(args) or (
        BLOCK_BASE_RE.search(address) and not SUBBLOCK_RE.search(address)
    )
    if not whole or _bbm_only(func, call) or _plugged_checked(func, call):
        return None
    return (
        f"{func.name}() converts the whole memory block with {call.name}(); in sub-block "
        "mode only plugged subblocks are backed by the host, so does this convert unplugged "
        "memory?"
    )


def _notifier_block(func: placement.Function, call: placement.Call) -> str | None:
    labels = [lb for lb in placement.case_labels(call.node) if lb in NOTIFIER_CASES]
    if not labels:
        return None
    args = " ".join(call.args)
    whole_range = re.search(r"\bstart\b", args) and re.search(r"\bsize\b", args)
    if SUBBLOCK_RE.search(args) or not whole_range:
        return None
    if _bbm_only(func, call):
        return None
    return (
        f"{func.name}() converts the notifier's whole block range with {call.name}() in "
        f"{labels[0]} even in sub-block mode; are unplugged subblocks converted too?"
    )


def _bbm_only(func: placement.Function, call: placement.Call) -> bool:
    """The call only runs in big-block mode (every subblock plugged)."""
    for anc in placement.ancestors(call.node):
        if anc == func.node:
            break
        if anc.type != "if_statement":
            continue
        cond = placement.squash(placement.text_of(anc.child_by_field_name("condition")))
        branch = placement.then_or_else(call.node, anc)
        if "in_sbm" not in cond:
            continue
        negated = bool(re.search(r"!\(?[\w.>-]*in_sbm", cond))
        if (branch == "then") == negated:
            return True
    return False


def _plugged_checked(func: placement.Function, call: placement.Call) -> bool:
    for loop in placement.enclosing_loops(call.node, func.node):
        if PLUGGED_TEST_RE.search(placement.text_of(loop)):
            return True
    body_before = placement.text_of(func.node)[: call.node.start_byte - func.node.start_byte]
    return bool(re.search(r"virtio_mem_sbm_test_sb_plugged\s*\([^;]*sbs_per_mb", body_before))
