"""Give headless function bodies a synthetic header so they parse as functions.

A SourceFile rebuilt from diff hunks shows only the lines near the change; everything
else is blank.  A hunk that starts inside a function body (the usual case) leaves
statements at the top level, which tree-sitter turns into top-level statements or ERROR
nodes the CFG builder never sees.  We replace the blank line just before such a fragment
with ``void __patchbot_fragment_<line>(void) {`` — same number of lines, so every line
number still matches the real file — and let the fragment's own closing brace (found by
counting braces; tree-sitter inserts a MISSING one if the hunk ends first) end it.

Damaged input is handled too, because review replies are linted "as far as they can be":

* a diff quoted in a reply often lost its indentation (every run of blanks collapsed to
  one space, context lines starting in column 0).  In a file with no tab-indented line,
  any column-0 line outside a well-formed top-level item that does not start one
  (``static``, ``struct``, ``}``, ``#``...) counts as body code, and the fragment ends at
  its balancing ``}`` (or before the next real function), not at the first ``}`` in
  column 0;
* an earlier hunk can end inside a struct or function (``struct foo {`` and two fields):
  the synthetic header line first closes those braces (``};void __patchbot_fragment_...``)
  so the unclosed construct does not swallow the fragment.
"""

from __future__ import annotations

import re
from functools import lru_cache

from tree_sitter import Node

from patchbot.cparse.parse import note_derived, parse_kernel

FRAGMENT_PREFIX = "__patchbot_fragment_"

# Top-level nodes whose lines are legitimately outside any function body.
_STRUCTURAL = (
    "function_definition",
    "declaration",
    "struct_specifier",
    "union_specifier",
    "enum_specifier",
    "type_definition",
    "comment",
    "linkage_specification",
)
# Column-0 lines that start a top-level item, never a body fragment.
_TOP_LEVEL_START = re.compile(r"(static|extern|typedef|struct|union|enum|[}#]|/[*/]|\*)")
# Braces outside string/char literals and comments (a line-local, approximate lexer).
_LEXEME = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//.*|/\*|\*/|[{}]')


def _top_level_nodes(text: str) -> tuple[set[int], set[int]]:
    """Lines covered by well-formed structural top-level nodes, and the lines of function
    definitions among them."""
    covered: set[int] = set()
    definitions: set[int] = set()
    for node in parse_kernel(text).root_node.children:
        structural = node.type in _STRUCTURAL or node.type.startswith("preproc")
        if structural and (node.type == "function_definition" or not node.has_error):
            lines = range(node.start_point[0], node.end_point[0] + 1)
            covered.update(lines)
            if node.type == "function_definition":
                definitions.update(lines)
    return covered, definitions


# Statements tree-sitter-c accepts at the top level without an ERROR node: a hunk that
# starts and ends inside one function body (issue 18: "ret = f(); if (ret) {...}") parses
# cleanly as these, and would otherwise never be given a header, so never analysed.
_TOP_LEVEL_STATEMENTS = frozenset(
    {
        "expression_statement",
        "if_statement",
        "return_statement",
        "for_statement",
        "while_statement",
        "do_statement",
        "switch_statement",
        "goto_statement",
        "labeled_statement",
        "compound_statement",
    }
)


def _is_top_level_statement(node: Node) -> bool:
    """An indented statement at the top level: body code (a top-level macro call such as
    MODULE_LICENSE("GPL"); also parses as a statement, but in column 0)."""
    return node.type in _TOP_LEVEL_STATEMENTS and node.start_point[1] > 0


def _lost_indentation(lines: list[str]) -> bool:
    """A quoted diff whose blanks were collapsed: no line is indented with a tab, so
    indentation cannot tell body code from top-level code."""
    return not any(line.startswith("\t") for line in lines)


def _is_body_line(line: str, index: int, covered: set[int], flat: bool) -> bool:
    """Does this line of a hunk-only file belong to a function body the diff cut off?"""
    stripped = line.strip()
    if index in covered or not stripped or stripped.startswith(("*", "/*", "//", "#")):
        return False
    if line[:1] in " \t":
        return True  # indented code outside any function
    # column 0 in a file that lost its indentation: anything but a top-level item start
    return flat and not _TOP_LEVEL_START.match(stripped)


class _Braces:
    """Running brace depth over lines, skipping literals and comments."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_comment = False

    def feed(self, line: str) -> None:
        if self.in_comment:
            if "*/" not in line:
                return
        elif "{" not in line and "}" not in line and "/*" not in line:
            return  # most lines: nothing that changes the depth or the comment state
        if not self.in_comment and "/" not in line and '"' not in line and "'" not in line:
            # no comment and no literal: every brace counts (the lexer finds just those)
            self.depth += line.count("{") - line.count("}")
            return
        self.lex(line)

    def lex(self, line: str) -> None:
        """feed() without its shortcuts: the definition, every token through the lexer."""
        for m in _LEXEME.finditer(line):
            token = m.group()
            if self.in_comment:
                self.in_comment = token != "*/"
            elif token == "/*":
                self.in_comment = True
            elif token == "{":
                self.depth += 1
            elif token == "}":
                self.depth -= 1


def _fragment_end(lines: list[str], start: int, definitions: set[int]) -> int:
    """Index just past the line whose ``}`` closes a body fragment starting at ``start``
    (or where a real function definition starts, or the end of the text, when the hunk
    stops first)."""
    braces = _Braces()
    for index in range(start, len(lines)):
        if index in definitions:
            return index
        braces.feed(lines[index])
        if braces.depth < 0:
            return index + 1
    return len(lines)


def _header_line(lines: list[str], first: int, covered: set[int]) -> int | None:
    """The blank line to put a fragment's header on: before ``first``, or before the
    body-level declarations (``int ret;``) a hunk can start with."""
    header = first - 1
    while header >= 0 and lines[header].strip() and header in covered:
        if not lines[header].rstrip().endswith(";") or lines[header].lstrip().startswith(
            ("static", "extern", "typedef", "#", "}")
        ):
            return None  # a real top-level item, not a local declaration
        header -= 1
    if header < 0 or lines[header].strip() or header in covered:
        return None
    return header


@lru_cache(maxsize=64)
def synthesize_fragments(text: str) -> str:
    """``text`` with a synthetic header before every headless body fragment."""
    root = parse_kernel(text).root_node
    if not root.has_error and not any(_is_top_level_statement(c) for c in root.children):
        return text
    lines = text.split("\n")
    covered, definitions = _top_level_nodes(text)
    flat = _lost_indentation(lines)
    out = list(lines)
    braces = _Braces()  # depth of the code before the current line, fragments excluded
    headers: list[int] = []  # the rows rewritten
    resume = 0  # the lines of a fragment just given a header are skipped
    for index, line in enumerate(lines):
        if not line or index < resume:
            continue  # (an empty line is unknown: neither body code nor a brace)
        if index not in covered and _is_body_line(line, index, covered, flat):
            header = _header_line(lines, index, covered)
            if header is not None:
                # close what an earlier hunk left open, or it swallows the fragment
                closer = "}" * braces.depth + ";" if braces.depth > 0 else ""
                out[header] = f"{closer}void {FRAGMENT_PREFIX}{header + 2}(void) {{"
                headers.append(header)
                braces = _Braces()
                resume = _fragment_end(lines, header + 1, definitions)
                continue
        if braces.in_comment or "{" in line or "}" in line or "/*" in line:
            braces.feed(line)  # (feed() ignores any other line; depth stays >= 0)
            braces.depth = max(braces.depth, 0)
    if not headers:
        return text
    synthesized = "\n".join(out)
    note_derived(synthesized, text, headers)  # only header lines differ: parse incrementally
    return synthesized


def is_fragment(name: str) -> bool:
    return name.startswith(FRAGMENT_PREFIX)
