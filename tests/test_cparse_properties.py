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
