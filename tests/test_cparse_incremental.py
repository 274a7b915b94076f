"""parse_kernel() reparses a fragment-headed hunk-only text incrementally from the
tree of the text it was made from; the result must be the tree a fresh parse gives."""

from __future__ import annotations

from tree_sitter import Node

from patchbot.cparse.fragments import synthesize_fragments
from patchbot.cparse.normalize import normalize
from patchbot.cparse.parse import _DERIVED_FROM, _parser, parse_kernel

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
    assert _DERIVED_FROM.get(synthesized) == HUNK_ONLY  # the incremental path is taken
    incremental = parse_kernel(synthesized)
    fresh = _parser().parse(normalize(synthesized).text.encode())
    assert _shape(incremental.root_node) == _shape(fresh.root_node)
    assert [c.type for c in incremental.root_node.children].count("function_definition") == 2
    # the cached tree of the original text was not edited in place
    assert _shape(base_tree.root_node) == before
