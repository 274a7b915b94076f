"""Winnowed k-gram fingerprints of a code sequence (duplicated-logic's hashing).

A sequence of small integer codes (normalised tokens) is cut into runs; every k-gram
gets a polynomial hash, and of every w consecutive hashes the rightmost minimum is kept
(Schleimer, Wilkerson and Aiken's winnowing), so two copies of the same code share
fingerprints whatever surrounds them.  A k-gram that crosses from one run into the next
never matches anything.

The hashing and the winnowing run in one Python loop: they are the only per-token
Python work left in duplicated-logic, and a second pass over the hashes cost as much
as computing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

HASH_MOD = (1 << 61) - 1
HASH_BASE = 1_000_003
# the hash of a k-gram that crosses two runs: above every real hash, so a window's
# minimum is a real one when it has any
NO_HASH = HASH_MOD


def _crossing(count: int, run_starts: Iterable[int], k: int) -> bytearray:
    """1 for each k-gram (by start) that crosses a run start."""
    crossing = bytearray(count)
    for start in run_starts:
        # the k-grams starting in the k - 1 codes before a run start reach into it
        first, last = max(0, start - k + 1), min(start, count)
        if first < last:
            crossing[first:last] = b"\x01" * (last - first)
    return crossing


def fingerprints(
    codes: Sequence[int], run_starts: Iterable[int], k: int, w: int
) -> tuple[list[int], list[int]]:
    """(hashes, positions): the rightmost minimum hash of every w consecutive k-grams
    and its position, each position once, in order; windows whose k-grams all cross
    runs give none.  Two lists of ints, not a list of pairs: the collector tracks every
    tuple, and a series has tens of thousands of fingerprints.

    ``run_starts`` are positions where a new run begins.  The hash of the k-gram at
    position p is sum(codes[p + i] * HASH_BASE ** (k - 1 - i)) mod HASH_MOD.
    """
    found: list[int] = []
    positions: list[int] = []
    count = len(codes) - k + 1  # k-grams
    if count < w or w < 1:
        return found, positions
    crossing = _crossing(count, run_starts, k)
    base, mod, no_hash = HASH_BASE, HASH_MOD, NO_HASH  # locals: the loop runs per code
    top = pow(base, k - 1, mod)
    h = 0
    for code in codes[:k]:
        h = (h * base + code) % mod
    hashes = [no_hash if crossing[0] else h]
    add = hashes.append
    # (leaving code, entering code, crosses) for the k-grams at 1, 2, ...
    steps = zip(codes, codes[k:], crossing[1:], strict=False)
    best, best_pos = hashes[0], 0  # rightmost minimum of the current window
    for position in range(1, w - 1):  # the k-grams before the first whole window
        leaving, entering, crosses = next(steps)
        h = ((h - leaving * top) * base + entering) % mod
        value = no_hash if crosses else h
        add(value)
        if value <= best:
            best, best_pos = value, position
    emit_hash, emit_position = found.append, positions.append
    last = -1  # the position emitted last
    if w == 1 and best != no_hash:
        last = 0
        emit_hash(best)
        emit_position(0)
    gone = max(1, w - 1) - w  # positions up to here have left the window
    for leaving, entering, crosses in steps:
        h = ((h - leaving * top) * base + entering) % mod
        value = no_hash if crosses else h
        add(value)
        if value <= best:  # the entering k-gram is the new rightmost minimum
            best, best_pos = value, gone + w
        elif best_pos <= gone:  # the minimum left the window: look at the whole window
            window = hashes[gone + 1 :]
            best = min(window)
            best_pos = gone + w - window[::-1].index(best)
        if best_pos != last and best != no_hash:
            last = best_pos
            emit_hash(best)
            emit_position(best_pos)
        gone += 1
    return found, positions


def subtract_ranges(
    ranges: Iterable[tuple[int, int]], holes: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Sorted disjoint [start, end) ranges minus sorted disjoint [start, end) holes."""
    out: list[tuple[int, int]] = []
    h = 0
    for start, end in ranges:
        while h < len(holes) and holes[h][1] <= start:
            h += 1
        j = h
        while j < len(holes) and holes[j][0] < end:
            if holes[j][0] > start:
                out.append((start, holes[j][0]))
            start = max(start, holes[j][1])
            j += 1
        if start < end:
            out.append((start, end))
    return out
