"""Token and word helpers shared by the pattern rules (duplicates, comments, terms).

Everything here works on plain text with line numbers, so rules can stay small and the
helpers can be tested on their own.  The tokenizer (patchbot.tokens, re-exported here) is
regex-based: much cheaper than a tree-sitter walk and good enough for "is this the same
shape of code".
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import compress
from operator import ne
from typing import TYPE_CHECKING, Any, NamedTuple

# the tokenizer lives in patchbot.tokens; rules import it from here as they always did
from patchbot.tokens import C_KEYWORDS, Comment, Token, TokenColumns, scan, token_columns

if TYPE_CHECKING:
    from patchbot.cparse.parse import FunctionSpan

__all__ = ["C_KEYWORDS", "Comment", "Token", "TokenColumns", "scan", "token_columns"]


def line_counts(added: frozenset[int], line: int) -> bool:
    """Whether a rule should look at ``line`` (--file mode hands an empty set: all do)."""
    return not added or line in added


# --- words ------------------------------------------------------------------------

# Kernel abbreviations a reviewer reads as the full word.
ABBREVIATIONS: dict[str, str] = {
    "dec": "decrypted",
    "enc": "encrypted",
    "decrypt": "decrypted",
    "encrypt": "encrypted",
    "decryption": "decrypted",
    "encryption": "encrypted",
    "sb": "subblock",
    "sbs": "subblock",
    "subblocks": "subblock",
    "mb": "memory block",
    "bb": "big block",
    "mem": "memory",
    "addr": "address",
    "phys": "physical",
    "pfn": "page frame",
    "pg": "page",
    "pages": "page",
    "nr": "number",
    "cnt": "count",
    "buf": "buffer",
    "alloc": "allocate",
    "dev": "device",
    "vdev": "device",
    "init": "initialize",
    "cfg": "config",
    "err": "error",
    "rc": "result",
    "ret": "result",
    "cb": "callback",
    "cc": "coco",
    "unlocked": "unlock",
    "locked": "lock",
    "unlocks": "unlock",
    "locks": "lock",
}

_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_identifier(name: str) -> list[str]:
    """``virtio_mem_sbm_coco_set_decrypted`` -> virtio mem sbm coco set decrypted."""
    return list(_split_identifier(name))


@lru_cache(maxsize=8192)
def _split_identifier(name: str) -> tuple[str, ...]:
    # cached: a driver spells the same few hundred names over and over
    words: list[str] = []
    for part in name.split("_"):
        words.extend(w.lower() for w in _CAMEL_RE.findall(part))
    return tuple(w for w in words if w)


def expand_words(words: Iterable[str]) -> set[str]:
    """Each word plus its spelled-out form (sb -> subblock, dec -> decrypted)."""
    out: set[str] = set()
    for w in words:
        out.add(w)
        full = ABBREVIATIONS.get(w)
        if full:
            out.update(full.split())
        out.add(stem(w))
    return out


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A crude English stem: enough to match 'unlocks'/'unlock', 'plugged'/'plug'."""
    for suffix in ("ation", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:  # plugg -> plug
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):  # share -> shar, like shared -> shar
        word = word[:-1]
    return word


_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def prose_words(text: str) -> list[str]:
    """Lower-case words of a comment; snake_case identifiers in it are split, but not
    CamelCase (prose writes "CoCo" and means one word)."""
    return [w for word in _WORD_RE.findall(text) for w in word.lower().split("_") if w]


# --- mirrored operation pairs ---------------------------------------------------------

# Word pairs that name an operation and its reverse.  Duplicated-logic treats both
# members as the same word, so the decrypt loop and its encrypt twin hash alike.
MIRROR_PAIRS: tuple[tuple[str, str], ...] = (
    ("encrypted", "decrypted"),
    ("encrypt", "decrypt"),
    ("enc", "dec"),
    ("plug", "unplug"),
    ("plugged", "unplugged"),
    ("online", "offline"),
    ("onlined", "offlined"),
    ("lock", "unlock"),
    ("get", "put"),
    ("alloc", "free"),
    ("inc", "dec"),
    ("map", "unmap"),
    ("add", "remove"),
    ("private", "shared"),
    ("accept", "share"),  # how CoCo code names the two conversions
    ("enable", "disable"),
    ("register", "unregister"),
    ("start", "stop"),
    ("set", "clear"),
)

_MIRROR_CANON: dict[str, str] = {}
for _a, _b in MIRROR_PAIRS:
    _MIRROR_CANON.setdefault(_a, f"{_a}|{_b}")
    _MIRROR_CANON.setdefault(_b, f"{_a}|{_b}")


def mirror_canonical(name: str) -> str:
    """The identifier with each mirrored word replaced by its pair name."""
    return "_".join(_MIRROR_CANON.get(w, w) for w in split_identifier(name))


def mirrored_difference(a: str, b: str) -> tuple[str, str] | None:
    """If identifiers a and b differ only by mirrored words, the first differing pair."""
    wa, wb = split_identifier(a), split_identifier(b)
    if len(wa) != len(wb) or wa == wb:
        return None
    pair: tuple[str, str] | None = None
    for x, y in zip(wa, wb, strict=True):
        if x == y:
            continue
        if _MIRROR_CANON.get(x) is None or _MIRROR_CANON.get(x) != _MIRROR_CANON.get(y):
            return None
        pair = pair or (x, y)
    return pair


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(text.split("\n"), start=1)


# --- commit messages ------------------------------------------------------------------

# Findings about a commit message point at this pseudo path.  Its lines are numbered
# as in the file `git commit` edits: line 1 is the title, line 2 is blank, the body
# starts on line 3 (so Trailer.line n is COMMIT_MSG line n + 2).
COMMIT_MSG_PATH = "COMMIT_MSG"
COMMIT_TITLE_LINE = 1


def commit_line(body_line: int) -> int:
    """COMMIT_MSG line of a 1-based line of Patch.body (or Trailer.line)."""
    return body_line + 2


def body_lines(body: str) -> list[tuple[int, str]]:
    """(COMMIT_MSG line, text) for each line of a commit message body."""
    return [(commit_line(n), text) for n, text in enumerate(body.split("\n"), start=1)]


# --- compound expressions (tree-sitter) -----------------------------------------------

# Rule modules import only patchbot.* and the stdlib, so the one tree-sitter walk a
# pattern rule needs lives here.
_EXPRESSION_TYPES = ("binary_expression", "cast_expression", "conditional_expression")
_OPERAND_TYPES = ("identifier", "field_identifier", "number_literal")
_SPACE_RE = re.compile(r"\s+")


class Expression(NamedTuple):
    """An arithmetic expression in C text: its text without whitespace, byte span, line.
    A NamedTuple: a file has hundreds, and a frozen dataclass is slow to build."""

    text: str
    start: int
    end: int
    line: int  # 1-based, where it starts


@lru_cache(maxsize=2)
def _query(types: tuple[str, ...]) -> Any:
    """A query capturing every node of the given types as @node."""
    from tree_sitter import Query

    from patchbot.cparse.parse import C_LANGUAGE

    return Query(C_LANGUAGE, "[" + " ".join(f"({t})" for t in types) + "] @node")


def _captured(
    types: tuple[str, ...],
    node: Any,
    point_range: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> list[Any]:
    """The nodes of those types in ``node``'s subtree (within ``point_range``)."""
    cursor = _cursor(types, point_range is not None)
    if point_range is not None:
        cursor.set_point_range(*point_range)
    nodes: list[Any] = cursor.captures(node).get("node", [])
    return nodes


@lru_cache(maxsize=4)
def _cursor(types: tuple[str, ...], ranged: bool) -> Any:
    """One cursor per query, reused: a rule asks for hundreds of small captures per file
    (each captures() call starts afresh).  Ranged and whole-subtree uses get separate
    cursors, so a point range set for one never limits the other."""
    from tree_sitter import QueryCursor

    return QueryCursor(_query(types))


def line_runs(lines: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive (distinct) line numbers as (first, last)."""
    ordered = sorted(lines)
    if not ordered:
        return []
    # where a run starts: a line that is not one after the line before it (C speed: a
    # patch adds thousands of lines and has a handful of runs)
    starts = [0, *compress(range(1, len(ordered)), map(ne, ordered[1:], map(_plus_one, ordered)))]
    ends = [*starts[1:], len(ordered)]
    return [(ordered[start], ordered[end - 1]) for start, end in zip(starts, ends, strict=True)]


_plus_one = (1).__add__


@lru_cache(maxsize=256)
def function_table(text: str) -> tuple[FunctionSpan | None, ...]:
    """function_at() for every line of ``text``, as a tuple indexed by line number.

    Rules ask for the function of hundreds of lines per file; function_at() scans all
    spans each time.  Cached by content, like the parse it comes from.
    """
    from patchbot.cparse.parse import function_spans

    spans = function_spans(text)
    table: list[FunctionSpan | None] = [None] * (text.count("\n") + 2)
    for span in reversed(spans):  # the first span covering a line is the one kept
        first, last = span.start_line, min(span.end_line, len(table) - 1)
        table[first : last + 1] = [span] * (last + 1 - first)
    return tuple(table)


def function_of(text: str, line: int) -> FunctionSpan | None:
    """The function whose definition covers ``line`` (cparse's function_at, cached)."""
    table = function_table(text)
    return table[line] if 0 <= line < len(table) else None


def _outermost(sized: Iterable[tuple[int, int, int, Any]]) -> list[Any]:
    """The nodes of (start, end, line, node) not inside another one of them
    (expressions nest, never overlap)."""
    out: list[Any] = []
    end_of_last = -1
    for start, end, _line, node in sorted(sized, key=lambda item: (item[0], -item[1])):
        if start >= end_of_last:
            out.append(node)
            end_of_last = end
    return out


# Longer expressions are not candidates (those nested in them still are): in a chain
# ``a + b + c ...`` every prefix is an expression, and copying each one's text made a
# 200 KB line cost 29 s and 2.5 GB.  Reports show 60 characters of an expression.
MAX_EXPRESSION_BYTES = 1_000


def compound_expressions(
    text: str, added: frozenset[int], min_operators: int, min_operands: int
) -> list[Expression]:
    """Expressions starting on an added line (any line when ``added`` is empty) with at
    least ``min_operators`` operators (binary operators, casts, ?:) and ``min_operands``
    operands (names, fields, numbers), nested ones included, each once.

    Sizes come from tree-sitter queries and bisection over the captured spans, instead
    of walking every candidate's subtree in Python: nested candidates would otherwise be
    walked once per enclosing expression.  Operands are captured only inside the
    candidates with enough operators: most names of a file sit elsewhere, and each
    captured node costs a Python object.
    """
    from patchbot.cparse.parse import parse_kernel

    # the kernel-normalised tree: every rule that asks for functions parses it already
    # (same byte offsets as ``text``); its node.text is normalised, so the expression's
    # text is read from the original bytes
    root = parse_kernel(text).root_node
    source = text.encode("utf-8", "surrogateescape")
    runs = line_runs(added) if added else [(1, root.end_point[0] + 1)]
    found: dict[tuple[int, int], Expression] = {}
    for first, last in runs:
        nodes = _captured(_EXPRESSION_TYPES, root, point_range=((first - 1, 0), (last, 0)))
        if not nodes:
            continue
        bounds = [(n.start_byte, n.end_byte) for n in nodes]
        # candidates may run past the added lines: size them over their whole span
        stop = max(n.end_point[0] for n in nodes) + 1
        if stop > last:
            inner = _captured(_EXPRESSION_TYPES, root, point_range=((first - 1, 0), (stop, 0)))
            spans = sorted({(n.start_byte, n.end_byte) for n in inner})
        else:
            spans = sorted(set(bounds))
        span_starts = [s for s, _e in spans]
        # (start, end, line, node) of the candidates with enough operators
        sized: list[tuple[int, int, int, Any]] = []
        for node, (start, end) in zip(nodes, bounds, strict=True):
            line = node.start_point[0] + 1
            if (added and line not in added) or (start, end) in found:
                continue
            # spans nest: those from ``start`` up to ``end`` are this one, the ones that
            # start at the same byte and end sooner, and all that start later
            low = bisect_left(span_starts, start)
            same_start = bisect_right(span_starts, start, low)
            own = bisect_left(spans, (start, end), low, same_start)
            nested = bisect_left(span_starts, end, same_start) - same_start
            operators = own - low + 1 + nested if start < end else 0
            if operators >= min_operators:
                sized.append((start, end, line, node))
        if not sized:
            continue
        # each query walks one expression's subtree, not the whole file down to it
        operand_starts = sorted(
            operand.start_byte
            for outer in _outermost(sized)
            for operand in _captured(_OPERAND_TYPES, outer)
        )
        for start, end, line, _node in sized:
            if (start, end) in found or end - start > MAX_EXPRESSION_BYTES:
                continue
            operands = bisect_left(operand_starts, end) - bisect_left(operand_starts, start)
            if operands < min_operands:
                continue
            written = source[start:end].decode("utf-8", "replace")
            found[(start, end)] = Expression(_SPACE_RE.sub("", written), start, end, line)
    return list(found.values())
