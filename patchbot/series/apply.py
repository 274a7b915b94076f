"""A small pure-Python hunk applier, tolerant the way patch(1) is.

Each hunk is looked for at its header position shifted by the offset of the previous
hunk, then outward from there (offset); then comparing lines with whitespace collapsed
(a mail client that turned tabs into spaces); then with up to two context lines dropped
from either end (fuzz).  Whitespace and fuzz matches are reported so the caller can say
the patch is damaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from patchbot.series.model import DiffLine, Hunk

MAX_FUZZ = 2


@dataclass
class ApplyResult:
    ok: bool
    lines: list[str] = field(default_factory=list)  # the post-image
    added: set[int] = field(default_factory=set)  # 1-based post-image lines the hunks add
    whitespace_fuzz: bool = False  # some hunk only matched with whitespace ignored
    fuzz: int = 0  # the most context lines any hunk had to drop to apply
    failed_hunk: str = ""  # the header of the first hunk that did not apply


def _exact(a: str, b: str) -> bool:
    return a == b


def _loose(a: str, b: str) -> bool:
    return a.split() == b.split()


def apply_hunks(old: Sequence[str], hunks: Sequence[Hunk]) -> ApplyResult:
    out: list[str] = []
    added: set[int] = set()
    pos = 0  # next unconsumed line of the old file
    offset = 0  # where the previous hunk really applied minus where it said it would
    loose_used = False
    fuzz = 0
    for hunk in hunks:
        found = _locate(old, hunk, pos, offset)
        if found is None:
            header = f"@@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@"
            return ApplyResult(ok=False, failed_hunk=header)
        idx, body, loose, lead = found
        loose_used |= loose
        fuzz = max(fuzz, lead, len(hunk.lines) - len(body) - lead)
        offset = idx - lead - _expected_index(hunk)
        out.extend(old[pos:idx])
        cur = idx
        for ln in body:
            if ln.kind == " ":
                out.append(old[cur])  # keep the file's own text for context
                cur += 1
            elif ln.kind == "-":
                cur += 1
            else:
                out.append(ln.text)
                added.add(len(out))
        pos = cur
    out.extend(old[pos:])
    return ApplyResult(ok=True, lines=out, added=added, whitespace_fuzz=loose_used, fuzz=fuzz)


def _expected_index(hunk: Hunk) -> int:
    # -N,0 means "insert after line N"; otherwise the hunk starts at line N.
    return hunk.old_start if hunk.old_len == 0 else max(hunk.old_start - 1, 0)


def _trim(lines: list[DiffLine], lead: int, trail: int) -> list[DiffLine] | None:
    """Drop up to lead/trail context lines from the ends; None if there are not enough."""
    if lead and any(ln.kind != " " for ln in lines[:lead]):
        return None
    if trail and any(ln.kind != " " for ln in lines[len(lines) - trail :]):
        return None
    if lead + trail >= len(lines):
        return None
    return lines[lead : len(lines) - trail]


def _locate(
    old: Sequence[str], hunk: Hunk, pos: int, offset: int
) -> tuple[int, list[DiffLine], bool, int] | None:
    # Whitespace-insensitive before fuzz: a mailer that turned tabs into spaces damages
    # every context line, and that is the diagnosis worth reporting.
    attempts: list[tuple[int, int, Callable[[str, str], bool]]] = [(0, 0, _exact), (0, 0, _loose)]
    for fuzz in range(1, MAX_FUZZ + 1):
        attempts += [(fuzz, 0, _exact), (0, fuzz, _exact), (fuzz, fuzz, _exact)]
    for lead, trail, same in attempts:
        body = _trim(hunk.lines, lead, trail) if lead or trail else list(hunk.lines)
        if body is None:
            continue
        want = [ln.text for ln in body if ln.kind != "+"]
        expected = _expected_index(hunk) + offset + lead
        idx = _search(old, want, pos, expected, same)
        if idx is not None:
            return idx, body, same is _loose, lead
    return None


def _search(
    old: Sequence[str],
    want: list[str],
    pos: int,
    expected: int,
    same: Callable[[str, str], bool],
) -> int | None:
    """The match of ``want`` in ``old[pos:]`` nearest to ``expected``."""
    last = len(old) - len(want)
    if last < pos:
        return None
    if not want:
        return min(max(expected, pos), len(old))
    expected = min(max(expected, pos), last)
    first = want[0]
    for dist in range(0, max(expected - pos, last - expected) + 1):
        for idx in (expected - dist, expected + dist) if dist else (expected,):
            if (
                pos <= idx <= last
                and same(old[idx], first)
                and all(same(old[idx + k], want[k]) for k in range(1, len(want)))
            ):
                return idx
    return None
