"""Bounds on the C analysis, so any input costs bounded time and memory (issue 16).

Every cap here sits far above what real kernel code needs (the measured figure is next
to each), and an analysis that reaches one records what it skipped with ``note()``; the
engine turns those notes into input warnings naming the file (``skipped()``).

* path walks (paths.py, coco.file_hits): at most ``MAX_FOLLOWED_CONVERSIONS`` walks per
  function and ``MAX_FILE_PATH_STATES`` walk states and ``MAX_FILE_PATH_HITS`` hits per
  file; a hit's trace keeps at most ``MAX_TRACE_LINKS`` CFG edges.  A function with 300
  conversions of one buffer took 32 s and 2.2 GB: every walk met every other conversion.
* deep or huge expressions (``bounded_source``, used by parse_kernel): a statement
  fragment (the text between two of ``;{},``) longer than ``MAX_SEGMENT_CHARS``, or
  parentheses/brackets nested deeper than ``MAX_PAREN_DEPTH``, is blanked (same byte
  length, newlines kept) before tree-sitter sees it: its tree would be thousands of
  levels deep, and tree-sitter's queries over such a tree are quadratic (an 80 KB line
  of '(' cost 32 s in one C call no budget can interrupt).
* blocks nested over ``MAX_BLOCK_DEPTH`` deep and function bodies with over
  ``MAX_ELSES_PER_BODY`` ``else`` are blanked inside the same way (1 MB of either took
  40 s: every tree-sitter node lookup walks down from the root);
* statement nesting that remains: cfg.MAX_NESTING_STEPS.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from itertools import accumulate, repeat

# -- path walks ------------------------------------------------------------------------

# The labelled 6.1 corpus (tests/labels) has at most 4 conversions in one function, 20
# path hits in one file and traces of 8 steps.
MAX_FOLLOWED_CONVERSIONS = 64
MAX_FILE_PATH_STATES = 200_000
MAX_FILE_PATH_HITS = 2_000
MAX_TRACE_LINKS = 64


class WalkBudget:
    """What the path walks of one file may still spend."""

    def __init__(self, states: int = MAX_FILE_PATH_STATES, hits: int = MAX_FILE_PATH_HITS):
        self.states = states
        self.hits = hits
        self.exhausted = False


# -- expressions -------------------------------------------------------------------------

# The longest run without ';', '{', '}' or ',' in the 6.1 tree's drivers/ and mm/ is a
# comment; code runs stay under 1,000 characters.  Parentheses there nest 12 deep at most.
MAX_SEGMENT_CHARS = 8_000
MAX_PAREN_DEPTH = 128

# tried only where a run starts (the lookbehind): tried at every position, each try
# would rescan the rest of its run, quadratic in the run's length
_LONG_SEGMENT_RE = re.compile(rf"(?<![^;{{}},])[^;{{}},]{{{MAX_SEGMENT_CHARS},}}")
_PARENS = str.maketrans({"(": "\x02", "[": "\x02", ")": "\x00", "]": "\x00"})
_NOT_PAREN_RE = re.compile(r"[^()\[\]]+")
_BLANKABLE_RE = re.compile(r"[^\n]")


def _too_deep(text: str) -> bool:
    if text.count("(") + text.count("[") <= MAX_PAREN_DEPTH:
        return False
    parens = _NOT_PAREN_RE.sub("", text).translate(_PARENS).encode("latin-1")
    # +1 per opening, -1 per closing, at C speed
    return max(accumulate(map(int.__sub__, parens, repeat(1)))) > MAX_PAREN_DEPTH


def _deep_spans(text: str) -> list[tuple[int, int]]:
    """Statement fragments (between ';', '{', '}') where parentheses nest too deep."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = 0
    deep = False
    for m in re.finditer(r"[()\[\];{}]", text):
        ch = m.group()
        if ch in "([":
            depth += 1
            deep = deep or depth > MAX_PAREN_DEPTH
        elif ch in ")]":
            depth = max(depth - 1, 0)
        else:
            if deep:
                spans.append((start, m.start()))
            start, depth, deep = m.end(), 0, False
    if deep:
        spans.append((start, len(text)))
    return spans


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Spaces over each span, newlines kept, same UTF-8 byte length."""
    out: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if start < done:
            start = done
        if end <= start:
            continue
        piece = text[start:end]
        if not piece.isascii():
            size = len(piece.encode("utf-8", "surrogateescape"))
            piece = piece.encode("utf-8", "surrogateescape").decode("latin-1")
            assert len(piece) == size
        out += [text[done:start], _BLANKABLE_RE.sub(" ", piece)]
        done = end
    out.append(text[done:])
    return "".join(out)


# Blocks nested deeper than this, and function bodies with more ``else`` than this (an
# else-if chain is a tree as deep as it is long), are blanked inside: tree-sitter's
# node lookups walk down from the root, so each costs the depth (a 1 MB else-if chain
# took 40 s).  Kernel code nests a handful of blocks and chains dozens of else-ifs.
MAX_BLOCK_DEPTH = 64
MAX_ELSES_PER_BODY = 1_000
_BRACE_RE = re.compile(r"[{}]")


def _deep_blocks(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """Spans inside blocks at MAX_BLOCK_DEPTH with deeper blocks in them, and inside
    top-level bodies with more than MAX_ELSES_PER_BODY ``else``."""
    spans: list[tuple[int, int]] = []
    notes: list[str] = []
    depth = 0
    body_start = cap_start = -1
    too_deep = False
    for m in _BRACE_RE.finditer(text):
        if m.group() == "{":
            depth += 1
            if depth == 1:
                body_start = m.end()
            elif depth == MAX_BLOCK_DEPTH:
                cap_start, too_deep = m.end(), False
            elif depth > MAX_BLOCK_DEPTH:
                too_deep = True
            continue
        if depth == MAX_BLOCK_DEPTH and too_deep:
            spans.append((cap_start, m.start()))
            notes.append(
                f"line {text.count(chr(10), 0, cap_start) + 1}: blocks nested over "
                f"{MAX_BLOCK_DEPTH} deep skipped"
            )
        elif depth == 1 and text.count("else", body_start, m.start()) > MAX_ELSES_PER_BODY:
            spans.append((body_start, m.start()))
            notes.append(
                f"line {text.count(chr(10), 0, body_start) + 1}: a function body with over "
                f"{MAX_ELSES_PER_BODY} 'else' skipped"
            )
        depth = max(depth - 1, 0)
    return spans, notes


def bounded_source(text: str) -> tuple[str, list[str]]:
    """``text`` with over-long and over-deep expression fragments blanked, and what was
    blanked (one line each).  Most texts come back as they are after two C-speed scans.

    A blanked non-ASCII piece keeps its byte length, not its character count: tree-sitter
    offsets are bytes, and the text is only ever parsed."""
    spans = [(m.start(), m.end()) for m in _LONG_SEGMENT_RE.finditer(text)]
    notes = [
        f"line {text.count(chr(10), 0, s) + 1}: {e - s} characters without ';', ',' or a "
        f"brace (over {MAX_SEGMENT_CHARS}) skipped"
        for s, e in spans
    ]
    if _too_deep(text):
        deep = _deep_spans(text)
        spans += deep
        notes += [
            f"line {text.count(chr(10), 0, s) + 1}: parentheses nested over "
            f"{MAX_PAREN_DEPTH} deep skipped"
            for s, _e in deep
        ]
    if text.count("{") > MAX_BLOCK_DEPTH or text.count("else") > MAX_ELSES_PER_BODY:
        blocks, block_notes = _deep_blocks(text)
        spans += blocks
        notes += block_notes
    if not spans:
        return text, []
    return _blank(text, spans), notes


# -- what was skipped, per text ----------------------------------------------------------

# text -> notes; bounded like the parse caches it sits next to (the bot runs for weeks)
_SKIPPED: OrderedDict[str, list[str]] = OrderedDict()
_SKIPPED_SIZE = 64


def note(text: str, what: str) -> None:
    """Record that an analysis of ``text`` skipped ``what`` (deduplicated)."""
    notes = _SKIPPED.get(text)
    if notes is None:
        notes = _SKIPPED[text] = []
        while len(_SKIPPED) > _SKIPPED_SIZE:
            _SKIPPED.popitem(last=False)
    if what not in notes:
        notes.append(what)


def skipped(text: str) -> list[str]:
    """What the analyses of ``text`` skipped so far (empty for nearly every file): the
    blanked expressions and the capped path walks."""
    return bounded_source(text)[1] + list(_SKIPPED.get(text, ()))
