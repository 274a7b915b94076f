"""Give headless function bodies a synthetic header so they parse as functions.

A SourceFile rebuilt from diff hunks shows only the lines near the change; everything
else is blank.  A hunk that starts inside a function body (the usual case) leaves
indented statements at the top level, which tree-sitter turns into ERROR nodes and the
CFG builder never sees.  We replace the blank line just before such a fragment with
``void __patchbot_fragment_<line>(void) {`` — same number of lines, so every line number
still matches the real file — and let the fragment's own closing brace (or its absence:
tree-sitter inserts a MISSING one) end it.
"""

from __future__ import annotations

from functools import lru_cache

from patchbot.cparse.parse import parse_kernel

FRAGMENT_PREFIX = "__patchbot_fragment_"

# Top-level nodes whose indented lines are legitimately outside any function body.
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


def _covered_lines(text: str) -> set[int]:
    covered: set[int] = set()
    for node in parse_kernel(text).root_node.children:
        structural = node.type in _STRUCTURAL or node.type.startswith("preproc")
        if structural and (node.type == "function_definition" or not node.has_error):
            covered.update(range(node.start_point[0], node.end_point[0] + 1))
    return covered


@lru_cache(maxsize=64)
def synthesize_fragments(text: str) -> str:
    """``text`` with a synthetic header before every headless indented body fragment."""
    if not parse_kernel(text).root_node.has_error:
        return text
    lines = text.split("\n")
    covered = _covered_lines(text)
    changed = False
    index = 0
    while index < len(lines):
        line = lines[index]
        orphan = (
            index not in covered
            and line.strip()
            and line[:1] in " \t"
            and not line.lstrip().startswith(("*", "/*", "//", "#"))
        )
        if not orphan:
            index += 1
            continue
        header = index - 1
        if header >= 0 and not lines[header].strip() and header not in covered:
            lines[header] = f"void {FRAGMENT_PREFIX}{index + 1}(void) {{"
            changed = True
        # skip to the end of this fragment: a closing brace in column 0
        while index < len(lines) and not lines[index].startswith("}"):
            index += 1
        index += 1
    return "\n".join(lines) if changed else text


def is_fragment(name: str) -> bool:
    return name.startswith(FRAGMENT_PREFIX)
