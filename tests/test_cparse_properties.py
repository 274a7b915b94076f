"""Property: kernel-idiom normalisation never moves a byte, line or column."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from patchbot.cparse.normalize import normalize

TOKENS = [
    "\tlist_for_each_entry(pos, head, node) {\n",
    "\tscoped_guard(mutex, &m) {\n",
    "static int __init __must_check f(void)\n",
    "\tvoid *p __free(kfree) = NULL;\n",
    "\tx = container_of(nb, struct demo, nb);\n",
    "\ty = min_t(unsigned int, a, b);\n",
    "EXPORT_SYMBOL_GPL(f);\n",
    "\tfor_each_online_cpu(cpu)\n",
    "\tfoo_for_each(bar);\n",
    "\tz = (unsigned long)p;\n",
    "}\n",
    "{\n",
    "\n",
    "é ünïcode ",
    "\tq = f(x) __acquires(é);\n",
    "(",
    ")",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30))
def test_normalisation_keeps_every_offset(parts: list[str]) -> None:
    text = "".join(parts)
    out = normalize(text).text.encode()
    raw = text.encode()
    assert len(out) == len(raw)  # tree-sitter works in bytes: every offset must survive
    assert [i for i, c in enumerate(out) if c == 10] == [i for i, c in enumerate(raw) if c == 10]


SNIPPETS = [
    "static int f(unsigned long addr)\n{\n",
    "\tif (set_memory_decrypted(addr, 1))\n",
    "\trc = set_memory_encrypted(addr, 1);\n",
    "\tif (rc)\n\t\tgoto out;\n",
    "\tfree_pages(addr, 0);\n",
    "\tlist_for_each_entry(pos, head, node) {\n",
    "\tswitch (rc) {\n\tcase 0:\n",
    "\t\tbreak;\n",
    "\tdo {\n",
    "\t} while (0);\n",
    "out:\n",
    "\treturn rc;\n",
    "}\n",
    "{\n",
    "\n",
    "\telse\n",
    "\tvoid *p __free(kfree) = kzalloc(8, GFP_KERNEL);\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SNIPPETS), max_size=25))
def test_analysis_survives_any_fragment_soup(parts: list[str]) -> None:
    """Damaged, partial or unbalanced input is analysed as far as it goes, never raises."""
    from patchbot.cparse import analyze_file, follow_conversion

    text = "".join(parts)
    fa = analyze_file(text)
    last_line = text.count("\n") + 1
    for func in fa.functions:
        for event in func.events:
            assert 1 <= event.line <= last_line
        for conv in func.events_of("conversion"):
            for hit in follow_conversion(func, conv):
                assert all(1 <= step.line <= last_line for step in hit.steps)
