"""patchbot.tokens: the shared tokenizer, its cache, and what the pattern rules build on it.

The tokenizer finds comments, literals and preprocessor lines by search and cuts the
code between them with findall.  It must give exactly what one left-to-right pass over
the text gives, so it is compared with such a pass (``_reference_scan`` below, the
simple form of the same token grammar) on generated text and on real kernel files.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchbot.api import SourceFile
from patchbot.engine import load_rules
from patchbot.tokens import C_KEYWORDS, scan, token_columns
from patchbot.winnow import fingerprints

# One alternation tried at every token start, in priority order: the obvious way to
# tokenize, too slow to use (a Python step per token) but easy to trust.
_REFERENCE_RE = re.compile(
    r"""
    (?P<pp>^[ \t]*\#(?:[^\n\\]|\\.)*)
  | [ \t\r\f\v]*
    (?: (?P<comment>/\*.*?(?:\*/|\Z)|//[^\n]*)
      | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<id>[A-Za-z_]\w*)
      | (?P<num>(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?)[uUlLfF]*)
      | (?P<op>->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=
             |[-+*/%&|^!~<>=?:;,.(){}\[\]])
      | (?P<nl>\n+)
      | (?P<ws>\\\n)
      | (?P<other>.)
    )
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)


def _reference_scan(text: str) -> tuple[list[tuple[str, str, int]], list[tuple[str, int, int]]]:
    tokens: list[tuple[str, str, int]] = []
    comments: list[tuple[str, int, int]] = []
    line = 1
    for m in _REFERENCE_RE.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        value = m.group(kind)
        newlines = value.count("\n")
        if kind == "id":
            tokens.append(("kw" if value in C_KEYWORDS else "id", value, line))
        elif kind in ("op", "num", "str"):
            tokens.append((kind, value, line))
        elif kind == "comment":
            comments.append((value, line, line + newlines))
        line += 1 if kind == "ws" else newlines
    return tokens, comments


def _columns_as_lists(text: str) -> tuple[list[tuple[str, str, int]], list[tuple[str, int, int]]]:
    cols = token_columns.__wrapped__(text)  # uncached: each example is tokenised afresh
    tokens = list(zip(cols.kinds, cols.texts, cols.lines, strict=True))
    comments = [(c.text, c.start_line, c.end_line) for c in cols.comments]
    return tokens, comments


# the characters and pairs where a tokenizer can go wrong: comment and literal openers
# inside each other, line-start '#', backslash-newlines, blanks other than spaces
_PIECES = [
    "a", "_x1", "é", "0x1F", "12", "1.5e-3f", ".", "/", "*", "/*", "*/", "//", '"', "'",
    "\\", "\\\n", "\n", "\r\n", "#", "  #", "\t", " ", "\f", "\v", "@", "->", "<<=", "=",
    "{", "}", ";", "(", ")", '"a\\"b"', "'\\''", "\u00a0", "٣",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60).map("".join))
def test_matches_a_single_pass_on_generated_text(text: str) -> None:
    assert _columns_as_lists(text) == _reference_scan(text)


# operator characters back to back: the tokenizer factors its operators by their first
# character (-[->=]? ...), the reference lists them longest first
_OPERATOR_PIECES = [*"-+<>=!&|^%*/~?:;,.[](){}a1 \n", "0x1f", "1e+5", "2.5"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_OPERATOR_PIECES), max_size=40).map("".join))
def test_operators_match_a_single_pass(text: str) -> None:
    assert _columns_as_lists(text) == _reference_scan(text)


@pytest.mark.kernel_tree
def test_matches_a_single_pass_on_kernel_files(kernel_tree: Path) -> None:
    paths = sorted((kernel_tree / "drivers" / "virtio").glob("*.c"))
    paths += sorted((kernel_tree / "arch" / "x86" / "coco").rglob("*.c"))
    paths += [kernel_tree / "include" / "linux" / "mm.h", kernel_tree / "mm" / "page_alloc.c"]
    assert len(paths) > 8, f"kernel tree at {kernel_tree} looks incomplete"
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        tokens, comments = _columns_as_lists(text)
        assert (tokens, comments) == _reference_scan(text), path
        assert tokens and comments, path


def test_lines_after_multiline_comments_strings_and_macros() -> None:
    text = (
        "#define A(x) \\\n"  # 1-2: one preprocessor line, dropped
        "\t(x)\n"
        "int a = 1; /* two\n"  # 3-4: comment spans two lines
        "   lines */ int b;\n"
        'char *s = "con\\\n'  # 5-6: string continued with a backslash
        'tinued"; x # y;\n'  # a '#' inside a line is not a directive
        "  # if 0\n"  # 7: indented directive
        "z;\n"
    )
    cols = token_columns(text)
    assert [(t, ln) for t, ln in zip(cols.texts, cols.lines, strict=True) if t != ";"] == [
        ("int", 3),
        ("a", 3),
        ("=", 3),
        ("1", 3),
        ("int", 4),
        ("b", 4),
        ("char", 5),
        ("*", 5),
        ("s", 5),
        ("=", 5),
        ('"con\\\ntinued"', 5),
        ("x", 6),
        ("y", 6),
        ("z", 8),
    ]
    assert [(c.start_line, c.end_line) for c in cols.comments] == [(3, 4)]
    assert cols.kinds[:2] == ("kw", "id")
    assert cols.kinds[cols.texts.index('"con\\\ntinued"')] == "str"


def test_cache_is_keyed_by_text_and_hands_out_immutable_columns() -> None:
    source = SourceFile("demo.c", "int old_name;\n")
    first = token_columns(source.text)
    assert token_columns(source.text) is first  # the shared stream: computed once
    source.text = "long new_name;\n"  # an edited file must not see its old tokens
    second = token_columns(source.text)
    assert second.texts == ("long", "new_name", ";")
    assert first.texts == ("int", "old_name", ";")
    with pytest.raises(AttributeError):
        first.texts.append("x")  # type: ignore[attr-defined]
    tokens, comments = scan(source.text)
    assert [(t.kind, t.text, t.line) for t in tokens] == list(
        zip(second.kinds, second.texts, second.lines, strict=True)
    )
    assert comments == second.comments


def _rule_module(rule_id: str) -> ModuleType:
    (loaded,) = [r for r in load_rules() if r.id == rule_id]
    spec = importlib.util.spec_from_file_location(f"_test_{loaded.path.stem}", loaded.path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_TWO_FUNCTIONS = """\
static int demo_a(void)
{
\tx = 1;
\ty = 2;
}
static const int demo_t[] = { 1, 2, };
static int demo_b(void)
{
\tz = 3;
}
"""


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        # line 4 and 8 not added; a function close, a data table and the gaps cut
        (frozenset(range(1, 11)) - {4, 8}, {(5, "}"), (6, "static"), (6, ";"), (9, "z")}),
        (frozenset(), {(6, "static"), (6, ";")}),  # --file mode: every line counts
    ],
)
def test_duplicated_logic_runs_cut_where_added_code_is_interrupted(
    added: frozenset[int], expected: set[tuple[int, str]]
) -> None:
    rule = _rule_module("duplicated-logic")
    stream = rule._build_stream(0, SourceFile("demo.c", _TWO_FUNCTIONS, added), {})
    tokens = stream.tokens(0, len(stream.kept))
    assert {(tokens[i].line, tokens[i].text) for i in stream.run_starts} == expected
    assert all(t.line in added for t in tokens) if added else len(tokens) == 42 - 6
    assert not any(t.text in ("1", "2") and t.line == 6 for t in tokens)  # the table is data
    # no fingerprinted k-gram reaches across a run start
    k = 3
    _hashes, positions = fingerprints(stream.norm, stream.run_starts, k, 2)
    assert positions
    for position in positions:
        assert not any(position < start < position + k for start in stream.run_starts)
