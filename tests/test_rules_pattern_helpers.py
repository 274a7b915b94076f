"""The helpers in patchbot.patterns that the pattern rules share, tested on their own."""

from __future__ import annotations

from patchbot.patterns import compound_expressions, scan, split_identifier, stem

C_TEXT = """\
#define DEMO_SHIFT(x) \\
\t((x) << 2)
static int demo(struct demo_dev *dd, int idx)
{
\t/* a comment, 'quoted' */
\tint a = dd->base + idx * dd->stride;
\tint b = (int)(dd->base + idx * dd->stride)
\t\t+ 1;
\treturn a + b;\t // trailing
}
"""


def test_scan_tokens_lines_and_comments() -> None:
    tokens, comments = scan(C_TEXT)
    assert [(t.kind, t.text, t.line) for t in tokens[:4]] == [
        ("kw", "static", 3),
        ("kw", "int", 3),
        ("id", "demo", 3),
        ("op", "(", 3),
    ]
    assert not any(t.text == "DEMO_SHIFT" for t in tokens)  # the #define is dropped
    assert [(c.body, c.start_line, c.end_line) for c in comments] == [
        ("a comment, 'quoted'", 5, 5),
        ("trailing", 9, 9),
    ]
    plus = [t.line for t in tokens if t.text == "+"]
    assert plus == [6, 7, 8, 9]


def test_compound_expressions_sizes_and_added_lines() -> None:
    found = compound_expressions(C_TEXT, frozenset(), 2, 3)
    by_line = sorted((e.line, e.text) for e in found)
    assert (6, "dd->base+idx*dd->stride") in by_line
    assert (7, "(int)(dd->base+idx*dd->stride)+1") in by_line  # runs onto line 8
    assert (7, "(int)(dd->base+idx*dd->stride)") in by_line
    assert all(line != 9 for line, _text in by_line)  # a + b: one operator only
    only_line_6 = compound_expressions(C_TEXT, frozenset({6}), 2, 3)
    assert [(e.line, e.text) for e in only_line_6] == [(6, "dd->base+idx*dd->stride")]
    assert compound_expressions(C_TEXT, frozenset({6}), 3, 3) == []
    # the '1' on line 8 is the sixth operand: counted though only line 7 is added
    six = compound_expressions(C_TEXT, frozenset({7}), 2, 6)
    assert [(e.line, e.text) for e in six] == [(7, "(int)(dd->base+idx*dd->stride)+1")]


def test_words() -> None:
    assert split_identifier("virtio_mem_sbmCoco_setDecrypted") == [
        "virtio",
        "mem",
        "sbm",
        "coco",
        "set",
        "decrypted",
    ]
    words = split_identifier("a_b")
    words.append("c")  # a fresh list each time, whatever is cached underneath
    assert split_identifier("a_b") == ["a", "b"]
    assert stem("unlocks") == stem("unlock") and stem("plugged") == "plug"
