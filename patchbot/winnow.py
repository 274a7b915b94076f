"""Winnowed k-gram fingerprints of a code sequence (duplicated-logic's hashing).

A sequence of small integer codes (normalised tokens) is cut into runs; every k-gram
gets a polynomial hash, and of every w consecutive hashes the rightmost minimum is kept
(Schleimer, Wilkerson and Aiken's winnowing), so two copies of the same code share
fingerprints whatever surrounds them.  A k-gram that crosses from one run into the next
never matches anything.

Neither step runs Python per code: they were the last per-token Python work in
duplicated-logic.  The hashes come from big-int products (see _packed_hashes) and the
window minima from min() mapped over shifted copies of one key list.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import add, and_, lshift, mod, ne, or_, rshift, sub

HASH_MOD = (1 << 61) - 1
HASH_BASE = 1_000_003
# the hash of a k-gram that crosses two runs: above every real hash, so a window's
# minimum is a real one when it has any
NO_HASH = HASH_MOD


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
    count = len(codes) - k + 1  # k-grams
    if count < w or w < 1 or k < 1:
        return [], []
    if k < _MAX_PACKED_K and all(0 <= c < _MAX_PACKED_CODE for c in (min(codes), max(codes))):
        hashes = _packed_hashes(codes, k)
    else:
        hashes = _rolled_hashes(codes, k)
    for start in run_starts:
        # the k-grams starting in the k - 1 codes before a run start reach into it
        first, last = max(0, start - k + 1), min(start, count)
        if first < last:
            hashes[first:last] = [NO_HASH] * (last - first)
    return _winnow(hashes, w)


# The packed path: every k-gram's hash is a dot product of k codes with the powers of
# HASH_BASE, i.e. one coefficient of the product of two polynomials, and a big-int
# product computes all of them at once (Kronecker substitution: one 64-bit slot per
# coefficient).  A power is below 2**61, too wide for a slot once multiplied by a code
# and summed k times, so each is split into 31-bit halves and the two products are
# recombined.  With codes below 2**16 and k below 2**8 a slot sums at most
# 2**16 * 2**31 * 2**8 = 2**55: no carry crosses into the next slot.
_HALF = 31
_MAX_PACKED_CODE = 1 << 16
_MAX_PACKED_K = 1 << 8


def _slot_products(codes: Sequence[int], factors: list[int], count: int) -> list[int]:
    """sum(codes[p + i] * factors[k - 1 - i] for i < k) for p < count, exactly."""
    order = sys.byteorder  # array() packs in the machine's byte order
    packed = int.from_bytes(array("Q", codes).tobytes(), order)
    product = packed * int.from_bytes(array("Q", factors).tobytes(), order)
    slots = array("Q")
    slots.frombytes(product.to_bytes(8 * (len(codes) + len(factors)), order))
    k = len(factors)
    return slots[k - 1 : k - 1 + count].tolist()


def _packed_hashes(codes: Sequence[int], k: int) -> list[int]:
    """The hash of every k-gram, with the big-int products doing the per-code work."""
    count = len(codes) - k + 1
    powers = [pow(HASH_BASE, i, HASH_MOD) for i in range(k)]  # for codes[p + k - 1 - i]
    low = _slot_products(codes, [x & ((1 << _HALF) - 1) for x in powers], count)
    high = _slot_products(codes, [x >> _HALF for x in powers], count)
    whole = map(add, low, map(lshift, high, repeat(_HALF)))
    return list(map(mod, whole, repeat(HASH_MOD)))


def _rolled_hashes(codes: Sequence[int], k: int) -> list[int]:
    """The hash of every k-gram, rolled along in Python (for codes too wide to pack)."""
    base, hash_mod = HASH_BASE, HASH_MOD
    top = pow(base, k - 1, hash_mod)
    h = 0
    for code in codes[:k]:
        h = (h * base + code) % hash_mod
    hashes = [h]
    for leaving, entering in zip(codes, codes[k:], strict=False):
        h = ((h - leaving * top) * base + entering) % hash_mod
        hashes.append(h)
    return hashes


def _winnow(hashes: list[int], w: int) -> tuple[list[int], list[int]]:
    """The rightmost minimum of every w consecutive hashes, each position once.

    Each hash becomes one int key, the hash above the position counted down from the
    end, so the smallest key of a window is its smallest hash at its rightmost
    position and min() over w shifted copies of the keys finds every window's at C
    speed.  The chosen position never moves left as the window slides, so a position
    chosen again is always the one chosen just before.
    """
    count = len(hashes)
    shift = count.bit_length()
    mask = (1 << shift) - 1
    keys = list(map(or_, map(lshift, hashes, repeat(shift)), range(mask, mask - count, -1)))
    windows = count - w + 1
    # min() of a single argument would iterate it: with w == 1 each key is its own window
    minima = keys if w == 1 else list(map(min, *(keys[j : j + windows] for j in range(w))))
    changed = compress(minima, map(ne, minima, [-1, *minima[: windows - 1]]))
    chosen = list(filter((NO_HASH << shift).__gt__, changed))  # not a crossing k-gram
    positions = list(map(sub, repeat(mask), map(and_, chosen, repeat(mask))))
    return list(map(rshift, chosen, repeat(shift))), positions


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
