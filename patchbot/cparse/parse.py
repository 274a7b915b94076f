"""Parse C text with tree-sitter-c and list its function definitions.

Kernel code is full of macros tree-sitter does not know; it still produces a tree with
ERROR nodes localised around them, which is what we want: a bad macro must not hide the
rest of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser, Tree

from patchbot.cparse.limits import bounded_source

C_LANGUAGE = Language(tree_sitter_c.language())


@dataclass(frozen=True)
class FunctionSpan:
    name: str
    start_line: int  # 1-based, line of the declarator/return type
    end_line: int  # 1-based, line of the closing brace
    body_start_line: int  # line of the opening brace


def _parser() -> Parser:
    return Parser(C_LANGUAGE)


@lru_cache(maxsize=256)
def parse(text: str) -> Tree:
    """Parse (cached by content: rules run over the same file many times)."""
    return _parser().parse(text.encode("utf-8", "surrogateescape"))


def declarator_name(node: Node | None) -> str | None:
    while node is not None:
        if node.type == "identifier":
            return node.text.decode("utf-8", "replace") if node.text else None
        inner = node.child_by_field_name("declarator")
        if inner is None:
            # parenthesized_declarator and friends keep the name one level down
            named = [c for c in node.named_children if c.type != "parameter_list"]
            inner = named[0] if named else None
        node = inner
    return None


@lru_cache(maxsize=256)
def function_spans(text: str, include_fragments: bool = False) -> tuple[FunctionSpan, ...]:
    """Every function definition in the text, in source order.

    ``include_fragments`` adds the headless body fragments of a hunk-only file (named
    ``__patchbot_fragment_<line>``, see fragments.py): what a "function the patch
    changes" test needs to see a body whose header the diff omits.  Off by default, as
    callers name functions in messages.
    """
    spans: list[FunctionSpan] = []
    if include_fragments:
        from patchbot.cparse.fragments import synthesize_fragments

        text = synthesize_fragments(text)
    stack = [parse_kernel(text).root_node]  # normalised: __init and friends don't derail it
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = declarator_name(node.child_by_field_name("declarator"))
            body = node.child_by_field_name("body")
            if name and body is not None:
                spans.append(
                    FunctionSpan(
                        name,
                        node.start_point[0] + 1,
                        node.end_point[0] + 1,
                        body.start_point[0] + 1,
                    )
                )
            continue
        stack.extend(node.children)
    spans.sort(key=lambda s: s.start_line)
    return tuple(spans)


def function_at(text: str, line: int) -> FunctionSpan | None:
    """The function whose definition covers ``line``, if any."""
    for span in function_spans(text):
        if span.start_line <= line <= span.end_line:
            return span
    return None


# derived text -> (the text it was made from by rewriting whole lines, line count kept
# (fragments.py's synthetic headers), the rewritten rows if known): parse_kernel()
# reparses such a text incrementally
_DERIVED_FROM: dict[str, tuple[str, tuple[int, ...] | None]] = {}


def note_derived(derived: str, base: str, rows: Sequence[int] | None = None) -> None:
    """Tell parse_kernel() that ``derived`` is ``base`` with some lines rewritten (same
    number of lines), so it can reuse ``base``'s tree for the unchanged stretches (and
    normalize() ``base``'s normalised text).  ``rows`` (0-based), when the caller knows
    which lines it rewrote, spare comparing every line: a hint, checked, never trusted."""
    from patchbot.cparse.normalize import note_line_edits

    if derived != base:
        hint = None if rows is None else tuple(sorted(set(rows)))
        _DERIVED_FROM[derived] = (base, hint)
        # an entry whose parse is already cached is never taken back out: drop the oldest
        while len(_DERIVED_FROM) > _DERIVED_KEPT:
            del _DERIVED_FROM[next(iter(_DERIVED_FROM))]
        note_line_edits(derived, base, hint)


_DERIVED_KEPT = 64  # as many as synthesize_fragments() caches


def forget_derived() -> None:
    """Drop every note_derived() hint (runcache.start_run)."""
    _DERIVED_FROM.clear()


@lru_cache(maxsize=256)
def parse_kernel(text: str) -> Tree:
    """Parse after same-length kernel-idiom normalisation (see normalize.py).

    Offsets, lines and columns match ``text``; node.text is the *normalised* text, so
    read source snippets from the original text by byte range when exactness matters.
    """
    from patchbot.cparse.normalize import normalize

    # over-long and over-deep expressions blanked (limits.py): their trees would be
    # thousands of levels deep, and queries over such trees quadratic
    source = bounded_source(normalize(text).text)[0]
    derived = _DERIVED_FROM.pop(text, None)
    if derived is not None:
        base, rows = derived
        return _reparse(parse_kernel(base), bounded_source(normalize(base).text)[0], source, rows)
    return _parser().parse(source.encode("utf-8", "surrogateescape"))


def _reparse(base_tree: Tree, base: str, source: str, rows: tuple[int, ...] | None = None) -> Tree:
    """Parse ``source`` reusing ``base_tree`` of ``base``, which has the same lines bar a
    few: a hunk-only file and its fragment-headed twin differ in a line per fragment,
    and tree-sitter then reparses only around those (the same tree as a fresh parse).
    ``rows``: the lines that may differ, if known (see normalize.changed_rows)."""
    from patchbot.cparse.normalize import changed_rows, line_offsets

    tree = base_tree.copy()  # the cached tree stays as it is
    old_lines = base.split("\n")
    new_lines = source.split("\n")
    if len(old_lines) != len(new_lines):
        return _parser().parse(source.encode("utf-8", "surrogateescape"))
    edits: list[tuple[int, int, int, int]] = []  # byte offset, old/new length, row
    if base.isascii():  # a character is a byte: offsets from line lengths at C speed
        offsets: list[int] | None = None
        for row in changed_rows(old_lines, new_lines, rows):
            new = new_lines[row]
            new_len = len(new) if new.isascii() else len(new.encode("utf-8", "surrogateescape"))
            if offsets is None:
                offsets = line_offsets(old_lines)
            edits.append((offsets[row], len(old_lines[row]), new_len, row))
    else:
        offset = 0
        for row, (old, new) in enumerate(zip(old_lines, new_lines, strict=True)):
            old_len = len(old.encode("utf-8", "surrogateescape")) if not old.isascii() else len(old)
            if old != new:
                new_len = (
                    len(new.encode("utf-8", "surrogateescape")) if not new.isascii() else len(new)
                )
                edits.append((offset, old_len, new_len, row))
            offset += old_len + 1
    # last first: an edit never moves the offsets of the ones before it
    for start, old_len, new_len, row in reversed(edits):
        tree.edit(
            start_byte=start,
            old_end_byte=start + old_len,
            new_end_byte=start + new_len,
            start_point=(row, 0),
            old_end_point=(row, old_len),
            new_end_point=(row, new_len),
        )
    return _parser().parse(source.encode("utf-8", "surrogateescape"), tree)


def error_stats(text: str, *, normalized: bool = True) -> tuple[int, int]:
    """(ERROR/MISSING node count, lines touched by them): the parse-quality figure."""
    tree = parse_kernel(text) if normalized else parse(text)
    count = 0
    lines: set[int] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            count += 1
            lines.update(range(node.start_point[0], node.end_point[0] + 1))
            continue
        if node.has_error:
            stack.extend(node.children)
    return count, len(lines)
