"""normalize() of a text made by rewriting whole lines of another (fragments.py's
synthetic headers) starts from the other text's result; it must equal a fresh
normalisation, or decline (None) when an edited line takes part in a rewrite that reads
past the end of its line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchbot.cparse.fragments import synthesize_fragments
from patchbot.cparse.normalize import (
    _BARE_SET,
    _EXPORT_NEEDLES,
    _EXPORT_RE,
    _LOOP_RE,
    _SCOPED_RE,
    Normalized,
    _bare_qualifiers,
    _matches,
    _normalize_fresh,
    _Rewriter,
    normalize_line_edits,
)

# A hunk-only post-image with every rewrite normalize() knows, near the fragments.
HUNK_ONLY = """static int demo_attach(struct demo *d) __must_check;
EXPORT_SYMBOL_GPL(demo_attach);

\tstruct page *page __free(__free_page) = alloc_page(GFP_KERNEL);
\tint ret;

\tscoped_guard(mutex, &d->lock) {
\t\tret = set_memory_decrypted((unsigned long)page_address(page), 1);
\t\tif (ret)
\t\t\treturn ret;
\t}
\tlist_for_each_entry(blk, &d->blocks, node)
\t\tblk->shared = container_of(blk, struct demo_blk, node) != NULL;
\treturn min_t(unsigned int, ret, 0);
}



\tguard(mutex)(&d->lock);
\tif (set_memory_encrypted(addr, 1))
\t\treturn;
\t__free_page(page);
}
"""


def _same(a: Normalized, b: Normalized) -> bool:
    return (a.text, a.loop_macros, a.scoped_guards, a.cleanups) == (
        b.text,
        b.loop_macros,
        b.scoped_guards,
        b.cleanups,
    )


def test_fragment_headers_are_normalised_from_the_base_text() -> None:
    synthesized = synthesize_fragments(HUNK_ONLY)
    assert synthesized.count("__patchbot_fragment_") == 2
    derived = normalize_line_edits(synthesized, HUNK_ONLY)
    assert derived is not None  # the fast path is taken for an ordinary hunk-only file
    fresh = _normalize_fresh(synthesized)
    assert _same(derived, fresh)
    assert fresh.loop_macros and fresh.scoped_guards and fresh.cleanups  # all exercised


def test_an_edit_inside_a_multiline_rewrite_is_normalised_afresh() -> None:
    # the loop header's "is a block follows?" look-ahead crosses the blank line
    base = "\tlist_for_each_entry(pos, head, node)\n\n;\n"
    edited = "\tlist_for_each_entry(pos, head, node)\nvoid f(void) {\n;\n"
    assert normalize_line_edits(edited, base) is None
    # an unbalanced qualifier argument blanks everything after it
    base = "int x __free(kfree\n\n\tfoo();\n"
    edited = "int x __free(kfree\nvoid g(void) {\n\tfoo();\n"
    assert normalize_line_edits(edited, base) is None
    # the word before a '(' in column 0 is read from the line above
    base = "\n(unsigned int) x;\n"
    edited = "foo\n(unsigned int) x;\n"
    assert normalize_line_edits(edited, base) is None
    assert not _same(_normalize_fresh(edited), _normalize_fresh(base))
    # a blanked non-ASCII character makes the normalised text longer than the original
    base = "MODULE_LICENSE(\n\t/* \u00e9 */\n)\n{\n"
    edited = base + "\t"
    assert normalize_line_edits(edited, base) is None
    # ... also when the edited line is the one starting with '('
    base = "foo\n\n"
    edited = "foo\n(unsigned int) x;\n"
    assert normalize_line_edits(edited, base) is None
    alone = _normalize_fresh("(unsigned int) x;").text
    assert _normalize_fresh(edited).text.split("\n")[1] != alone


_LINES = [
    "",
    "\t",
    "{",
    "}",
    "};void __patchbot_fragment_7(void) {",
    "void __patchbot_fragment_3(void) {",
    "\tlist_for_each_entry(pos, head, node)",
    "\tlist_for_each_entry(pos,",
    "\thlist_for_each(p, h) {",
    "\tscoped_guard(spinlock, &l)",
    "\tstruct page *p __free(kfree) = NULL;",
    "\tvoid *q __cleanup(",
    "kfree);",
    "EXPORT_SYMBOL(foo)",
    "MODULE_LICENSE(",
    ";",
    "(",
    ")",
    "(unsigned int) x;",
    "\tx = min_t(unsigned long, a, b);",
    "\ty = container_of(p, struct foo, node);",
    "static int __init __must_check bar(void)",
    "\tsizeof(int);",
    "foo",
    "\tret = set_memory_decrypted(addr, 1);",
    "\t/* é: not ASCII */",
]


@settings(max_examples=1000, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_LINES), min_size=1, max_size=12),
    edits=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(_LINES)), max_size=4),
)
def test_derived_normalisation_equals_a_fresh_one(
    lines: list[str], edits: list[tuple[int, str]]
) -> None:
    edited = list(lines)
    for index, line in edits:
        edited[index % len(edited)] = line
    base, derived_text = "\n".join(lines), "\n".join(edited)
    derived = normalize_line_edits(derived_text, base)
    if derived is not None:
        assert _same(derived, _normalize_fresh(derived_text))


# -- the line-anchored rewrites are tried only on lines naming them ----------------------

_SCAN_LINES = [
    "",
    "\tlist_for_each_entry(pos, head, node) {",
    "\tfoo_for_each",
    "   (for_each_x)",
    "\t\tfor_each_online_cpu(cpu)",
    "\tscoped_guard(mutex, &m) {",
    "\telse scoped_cond_guard(x, y) {",
    "EXPORT_SYMBOL_GPL(foo);",
    'MODULE_LICENSE("GPL");',
    "x = for_each;",
    "(",
]


def _scans() -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    return [(_LOOP_RE, ("for_each",)), (_SCOPED_RE, ("scoped_",)), (_EXPORT_RE, _EXPORT_NEEDLES)]


def _spans(found: Iterable[re.Match[str]]) -> list[tuple[int, int, tuple[str | Any, ...]]]:
    return [(m.start(), m.end(), m.groups()) for m in found]


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.sampled_from(_SCAN_LINES), max_size=10))
def test_needle_scan_finds_what_finditer_finds(lines: list[str]) -> None:
    text = "\n".join(lines)
    for pattern, needles in _scans():
        assert _spans(_matches(pattern, text, needles)) == _spans(pattern.finditer(text))


@pytest.mark.kernel_tree
def test_needle_scan_matches_finditer_on_kernel_sources(kernel_tree: Path) -> None:
    count = 0
    for path in sorted((kernel_tree / "mm").glob("*.c"))[:40]:
        text = path.read_text(errors="replace")
        for pattern, needles in _scans():
            found = _spans(_matches(pattern, text, needles))
            assert found == _spans(pattern.finditer(text)), path
            count += len(found)
    assert count > 100  # the files do exercise the loop and export rewrites


# -- the ASCII byte buffer and the qualifier scan ------------------------------------------

# The definition the qualifier scan must agree with: one regex for every candidate word,
# tried at every position (what normalize() used before it searched for "__" first).
_QUALIFIER_DEFINITION = re.compile(
    r"(?:_(?<!\w_)_\w+|n(?<!\wn)o(?:inline|trace|instr)\b|a(?<!\wa)smlinkage)\b"
)
_QUALIFIER_PIECES = [
    "__init",
    "__iomem",
    "foo__init",
    "___init",
    "__init2",
    "x__",
    "__",
    "_",
    "a",
    " ",
    "\n",
    "(",
    "noinline",
    "xnoinline",
    "noinline_x",
    "notrace",
    "noinstr",
    "asmlinkage",
    "nasmlinkage",
    "__must_check",
    "\u00e9",
    "\u00e9__init",
    "2__init",
    "__weak;",
]


def _defined_qualifiers(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUALIFIER_DEFINITION.finditer(text) if m.group() in _BARE_SET]


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(st.sampled_from(_QUALIFIER_PIECES), max_size=16))
def test_qualifier_scan_finds_what_the_single_regex_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert sorted(_bare_qualifiers(text)) == _defined_qualifiers(text)


@pytest.mark.kernel_tree
def test_qualifier_scan_matches_the_single_regex_on_kernel_sources(kernel_tree: Path) -> None:
    count = 0
    for path in sorted((kernel_tree / "mm").glob("*.c"))[:40]:
        text = path.read_text(errors="replace")
        found = sorted(_bare_qualifiers(text))
        assert found == _defined_qualifiers(text), path
        count += len(found)
    assert count > 100  # __init, __meminit, __always_inline... are common in mm/


_EDIT = st.tuples(st.booleans(), st.integers(0, 60), st.integers(0, 30))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab_ \t\n(),;", max_size=60), edits=st.lists(_EDIT, max_size=8))
def test_byte_buffer_edits_like_the_character_list(
    text: str, edits: list[tuple[bool, int, int]]
) -> None:
    """Blanking (newlines kept) and overwriting, in any order and overlapping, give the
    same text on the bytearray (ASCII) as on the list of characters."""
    fast, general = _Rewriter(text), _Rewriter(text, bytewise=False)
    assert fast.ascii and not general.ascii
    for blank, start, size in edits:
        start = min(start, len(text))
        if blank:
            fast.blank(start, start + size)
            general.blank(start, start + size)
        else:
            word = "while"[: max(0, min(size, len(text) - start))]
            fast.put(start, word)
            general.put(start, word)
    assert fast.text() == general.text()
    assert len(fast.text()) == len(text)


@pytest.mark.kernel_tree
def test_bytewise_normalisation_equals_the_character_one(kernel_tree: Path) -> None:
    texts = [HUNK_ONLY] + [
        p.read_text(errors="replace") for p in sorted((kernel_tree / "mm").glob("*.c"))[:30]
    ]
    ascii_texts = [t for t in texts if t.isascii()]
    assert len(ascii_texts) > 20
    rewritten = 0
    for text in ascii_texts:
        fast, general = _normalize_fresh(text), _normalize_fresh(text, bytewise=False)
        assert _same(fast, general) and fast.reach == general.reach
        rewritten += fast.text != text
    assert rewritten > 15  # the comparison is not between untouched texts
