"""patchbot.winnow.fingerprints against the definition it implements, computed the slow
way: every k-gram hashed from scratch, every window's rightmost minimum found by search."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from patchbot.winnow import HASH_BASE, HASH_MOD, NO_HASH, fingerprints, subtract_ranges


def _by_definition(codes: list[int], run_starts: set[int], k: int, w: int) -> list[tuple[int, int]]:
    hashes = []
    for p in range(len(codes) - k + 1):
        if any(p < s < p + k for s in run_starts):
            hashes.append(NO_HASH)
        else:
            hashes.append(
                sum(c * HASH_BASE ** (k - 1 - i) for i, c in enumerate(codes[p : p + k])) % HASH_MOD
            )
    out: list[tuple[int, int]] = []
    for start in range(len(hashes) - w + 1):
        window = hashes[start : start + w]
        best = min(window)
        pos = start + max(i for i, h in enumerate(window) if h == best)
        if best != NO_HASH and (not out or out[-1][1] != pos):
            out.append((best, pos))
    return out


# few distinct codes and short k-grams: equal hashes (ties) are common, which is where a
# rightmost-minimum tracker goes wrong
@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.integers(1, 3), max_size=40),
    st.sets(st.integers(1, 39), max_size=4),
    st.integers(1, 5),
    st.integers(1, 5),
)
def test_fingerprints_match_the_definition(
    codes: list[int], run_starts: set[int], k: int, w: int
) -> None:
    starts = {s for s in run_starts if s < len(codes)}
    hashes, positions = fingerprints(codes, starts, k, w)
    assert list(zip(hashes, positions, strict=True)) == _by_definition(codes, starts, k, w)


def test_fingerprints_of_a_repeated_sequence_repeat() -> None:
    body = [5, 9, 2, 7, 7, 1, 8, 3, 6, 4]
    codes = [*body, 11, 12, *body]
    found = list(zip(*fingerprints(codes, set(), 4, 3), strict=True))
    first = {h for h, pos in found if pos + 4 <= len(body)}
    second = {h for h, pos in found if pos >= len(body) + 2}
    assert first and first == second
    # a run start in the middle of the second copy: its k-grams across it are gone
    cut = list(zip(*fingerprints(codes, {len(body) + 2 + 5}, 4, 3), strict=True))
    assert all(not (pos < len(body) + 7 < pos + 4) for _h, pos in cut)
    assert {h for h, pos in cut if pos + 4 <= len(body)} == first  # the first copy: as before


def test_subtract_ranges() -> None:
    assert subtract_ranges([(0, 10), (20, 30)], [(2, 4), (8, 22), (25, 26)]) == [
        (0, 2),
        (4, 8),
        (22, 25),
        (26, 30),
    ]
    assert subtract_ranges([(0, 5)], []) == [(0, 5)]
    assert subtract_ranges([(3, 5)], [(0, 10)]) == []
