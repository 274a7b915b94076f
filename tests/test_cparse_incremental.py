"""parse_kernel() reparses a fragment-headed hunk-only text incrementally from the
tree of the text it was made from; the result must be the tree a fresh parse gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tree_sitter import Node

from patchbot.cparse.fragments import _Braces, synthesize_fragments
from patchbot.cparse.normalize import changed_rows, line_offset, normalize
from patchbot.cparse.parse import _DERIVED_FROM, _parser, _reparse, parse_kernel

# A hunk-only post-image: two hunks starting inside function bodies, blank lines
# standing for what the diff does not show (so the synthetic headers have room).
HUNK_ONLY = """

\tint ret;

\tret = set_memory_decrypted((unsigned long)buf, npages);
\tif (ret)
\t\tgoto err_free;
\tlist_for_each_entry(blk, &dev->blocks, node)
\t\tblk->shared = true;
\treturn 0;
err_free:
\tfree_pages((unsigned long)buf, order);
\treturn ret;
}



\tguard(mutex)(&dev->lock);
\tif (set_memory_encrypted(addr, 1))
\t\treturn;
\t__free_page(page);
}
"""


def _shape(node: Node) -> list[tuple[str, int, int, bool, bool]]:
    out = []
    stack = [node]
    while stack:
        cur = stack.pop()
        out.append((cur.type, cur.start_byte, cur.end_byte, cur.is_missing, cur.has_error))
        stack.extend(reversed(cur.children))
    return out


def test_incremental_reparse_matches_a_fresh_parse() -> None:
    base_tree = parse_kernel(HUNK_ONLY)
    before = _shape(base_tree.root_node)
    synthesized = synthesize_fragments(HUNK_ONLY)
    assert synthesized.count("__patchbot_fragment_") == 2  # both fragments got a header
    # the incremental path is taken, told which rows got a header
    headers = tuple(i for i, line in enumerate(synthesized.split("\n")) if "fragment" in line)
    assert _DERIVED_FROM.get(synthesized) == (HUNK_ONLY, headers)
    incremental = parse_kernel(synthesized)
    fresh = _parser().parse(normalize(synthesized).text.encode())
    assert _shape(incremental.root_node) == _shape(fresh.root_node)
    assert [c.type for c in incremental.root_node.children].count("function_definition") == 2
    # the cached tree of the original text was not edited in place
    assert _shape(base_tree.root_node) == before


def test_changed_rows_checks_its_hint() -> None:
    old = ["a", "", "b", "", "c"]
    new = ["a", "x", "b", "y", "c"]
    assert changed_rows(old, new) == [1, 3]
    assert changed_rows(old, new, (1, 3)) == [1, 3]
    assert changed_rows(old, new, (1, 2, 3)) == [1, 3]  # a hinted row may be unchanged
    assert changed_rows(old, new, (1,)) == [1, 3]  # a change outside the hint is found
    assert changed_rows(old, new, ()) == [1, 3]
    assert changed_rows(old, new, (3, 9)) == [1, 3]  # out of range: ignored
    assert changed_rows(old, old, ()) == []
    assert [line_offset(new, row) for row in range(5)] == [0, 2, 4, 6, 8]
    assert "\n".join(new)[line_offset(new, 3)] == "y"


def test_a_wrong_row_hint_still_gives_the_fresh_tree() -> None:
    synthesized = synthesize_fragments(HUNK_ONLY)
    base, source = normalize(HUNK_ONLY).text, normalize(synthesized).text
    fresh = _shape(_parser().parse(source.encode()).root_node)
    for hint in (None, (), (0,), (1, 2, 3), (10_000,)):
        tree = _reparse(parse_kernel(HUNK_ONLY), base, source, hint)
        assert _shape(tree.root_node) == fresh, hint


_BRACE_PIECES = ["{", "}", "/*", "*/", "//", '"', "'", "\\", "x", " ", "/", "*"]


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(st.lists(st.sampled_from(_BRACE_PIECES), max_size=8), max_size=8))
def test_brace_counting_shortcuts_agree_with_the_lexer(lines: list[list[str]]) -> None:
    fast, lexed = _Braces(), _Braces()
    for pieces in lines:
        line = "".join(pieces)
        fast.feed(line)
        lexed.lex(line)  # every line through the lexer, no shortcut
        assert (fast.depth, fast.in_comment) == (lexed.depth, lexed.in_comment), line
