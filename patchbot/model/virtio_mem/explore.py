"""Bounded systematic exploration of what a host and an admin can do to virtio-mem.

A sequence is "<mode>:<step>,<step>,...", run after the probe, ending in the driver's
removal.  Every sequence starts by plugging 2.5 memory blocks (r10: two full blocks and
a partial one), then takes up to DEPTH steps from ALPHABET:

  rN        the host requests N x 64 KiB (r0: unplug all, r4 shrinks, r16 grows)
  offB/onB  offline / online memory block B
  cancelB   offline block B, then online it while another notifier refuses
            (MEM_CANCEL_ONLINE), leaving it offline
  nack/busy/error  the device answers the next request so, once

Faults (conversion, partial conversion, pairs) fail only the calls of a sequence's last
step (fault_base): the earlier calls were failed in the shorter sequence it extends
(which then goes on to the driver's removal, which unplugs nothing).  A cancel step is
the exception: the MEM_CANCEL_ONLINE notifier cannot report that its undo failed, so
what the driver does about it shows only in the step after it (unplugging or onlining
that block).  A step that follows a cancel therefore runs with the cancel's calls
failed too ("sbm:r10,cancel1,r0" fails the calls of cancel1 and r0).  Offlining needs no
such exception: the lifecycle scripts offline a block, then unplug it, with every call
of every kind failed.

Enumeration is breadth first, so the first sequence (in scenarios() order) that shows a
violation is a shortest one: findings keep it as the violation's minimal reproducer.
The bound: 2 modes x sum(|ALPHABET|^k, k=0..DEPTH) sequences (2 x 73 = 146 at depth 2).
"""

from __future__ import annotations

import itertools

MODES = ("sbm", "bbm")
PREFIX = ("r10",)
# block 1 is full after r10, block 2 partial: offline/online/cancel of block 1 and the
# resizes reach both (measured: adding off2/cancel2 found nothing new on our fixtures
# and cost half the matrix again)
ALPHABET = ("r4", "r16", "r0", "off1", "on1", "cancel1", "nack", "busy")
DEPTH = 2


def sequences(depth: int = DEPTH) -> list[str]:
    out = []
    for k in range(depth + 1):
        for mode in MODES:
            for steps in itertools.product(ALPHABET, repeat=k):
                out.append(f"{mode}:{','.join((*PREFIX, *steps))}")
    return out


def parse(scenario: str) -> tuple[str, list[str]]:
    mode, _, rest = scenario.partition(":")
    if mode not in MODES or not rest:
        raise ValueError(f"not an explored virtio-mem sequence: {scenario!r}")
    return mode, rest.split(",")


def fault_base(scenario: str) -> str | None:
    """The sequence without the last step, and without the cancel steps right before it
    (None: fail every call)."""
    mode, steps = parse(scenario)
    keep = len(steps) - 1
    while keep > 1 and steps[keep - 1].startswith("cancel"):
        keep -= 1
    if keep < 1:
        return None
    return f"{mode}:{','.join(steps[:keep])}"


def bound() -> str:
    return (
        f"{len(MODES)} modes x sequences of {'+'.join(PREFIX)} then up to {DEPTH} of "
        f"{len(ALPHABET)} steps = {len(sequences())} sequences"
    )
