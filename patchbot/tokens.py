"""The C tokenizer the pattern rules share: code tokens and comments, with line numbers.

One tokenisation per text, cached by content and kept as columns (kinds, texts, lines):
duplicated-logic and restating-comment read the same post-images, and columns let them
filter and map whole files at C speed instead of touching a Python object per token.

The work is split so that Python runs per *region*, not per token: one regex search
finds the rare regions that need care (preprocessor lines, comments, string and char
literals); the plain code between them is cut with ``findall`` and its line numbers
come from a running count of the newlines ``findall`` returns.  The result is exactly
what a single left-to-right pass over the whole text gives (tests/test_tokens.py
compares the two): none of the special regions can start inside a code token, so the
search meets each at the same place the single pass would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, compress, repeat
from operator import not_
from typing import NamedTuple

_KEYWORD_TEXT = """auto break case char const continue default do double else enum extern float
    for goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while bool true false NULL"""
C_KEYWORDS = frozenset(_KEYWORD_TEXT.split())


class Token(NamedTuple):
    """One code token.  A NamedTuple: a file has tens of thousands, and a frozen
    dataclass costs several times as much to build."""

    kind: str  # "id", "kw", "num", "str", "op"
    text: str
    line: int  # 1-based


_LEADING_STARS_RE = re.compile(r"^\s*\*+")


@dataclass(frozen=True)
class Comment:
    text: str  # raw, including the /* */ or // markers
    start_line: int
    end_line: int

    @property
    def body(self) -> str:
        """The words of the comment without markers and leading stars."""
        inner = self.text
        if inner.startswith("//"):
            inner = inner[2:]
        else:
            inner = inner[2:-2] if inner.endswith("*/") else inner[2:]
        lines = [_LEADING_STARS_RE.sub("", ln) for ln in inner.split("\n")]
        return " ".join(ln.strip() for ln in lines).strip()

    @property
    def is_kernel_doc(self) -> bool:
        return self.text.startswith("/**") and not self.text.startswith("/**/")


class TokenColumns(NamedTuple):
    """The code tokens of a text as parallel columns (token i is kinds[i], texts[i],
    lines[i]; lines never decrease) and its comments.  Preprocessor lines are dropped."""

    kinds: tuple[str, ...]
    texts: tuple[str, ...]
    lines: tuple[int, ...]
    comments: tuple[Comment, ...]


# Regions found by search, in the order a single pass would try them at one position:
# a preprocessor line, a comment, a string or char literal.  A region's first character
# decides which it can be, so the pattern opens with the class of those characters and
# only then tells them apart by looking back at it: a pattern that opens with a class
# lets the regex engine's search skip to the next such character at C speed, where a
# leading lookahead or group had it try a match at every character of the text.  A '#'
# opens a preprocessor line only when blanks alone precede it on its line (checked by
# the caller); elsewhere it is a stray character.
_SPECIAL_RE = re.compile(
    r"""
    [\#/"']
    (?: (?<=\#) (?P<pp>(?:[^\n\\]|\\.)*)
      | (?<=/) (?P<comment>\*.*?(?:\*/|\Z)|/[^\n]*)
      | (?P<str>(?<=")(?:[^"\\\n]|\\.)*"|(?<=')(?:[^'\\\n]|\\.)*')
    )
    """,
    re.VERBOSE | re.DOTALL,
)

# Code tokens between those regions, and an empty string for each newline (the group
# is empty then), which counts lines at C speed.  The alternatives start with different
# characters, so their order only decides how soon the regex engine finds the one that
# matches: one that opens with a single character or class is rejected without being
# entered, so the newline, names and punctuation (most tokens) come first, operators
# are factored by their first character (-[->=]? for ->, --, -= and -), and numbers,
# whose alternative opens with a group, come last.  Blanks in front are taken with the
# token; other blanks, backslash-newlines and stray characters (a '#' mid-line, an
# unpaired quote, '@') match nothing, so findall steps over them as a single pass drops
# them.  Pure-ASCII text (nearly all C) uses an ASCII-only copy: the same tokens, faster.
_CODE_PATTERN = r"""
    [ \t]*
    (?: \n
      | ( [A-Za-z_]\w*
        | [;,()\[\]{}.~?:] | -[->=]? | \+[+=]? | <<?=? | >>?=? | [=!]=? | &[&=]? | \|[|=]?
        | [*/%^]=?
        | (?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?)[uUlLfF]*
        )
    )
    """
_CODE_RE = re.compile(_CODE_PATTERN, re.VERBOSE)
_ASCII_CODE_RE = re.compile(_CODE_PATTERN, re.VERBOSE | re.ASCII)

_ID_START = re.compile(r"[A-Za-z_]")
_NUM_START = re.compile(r"\d")


class _KindTable(dict[str, str]):
    """Token text -> kind; a text has one kind whatever its context, so the table is
    shared by every file and mapping a whole column through it runs at C speed."""

    def __missing__(self, text: str) -> str:
        if text[0] in "\"'":
            kind = "str"
        elif _ID_START.match(text):
            kind = "kw" if text in C_KEYWORDS else "id"
        elif _NUM_START.match(text):
            kind = "num"
        else:
            kind = "op"
        if len(self) > 200_000:  # a pathological input must not grow it without bound
            self.clear()
        self[text] = kind
        return kind


_KINDS = _KindTable()


def _code_tokens(
    findall: Callable[[str], list[str]], chunk: str, line: int, texts: list[str], lines: list[int]
) -> int:
    """Append the code tokens of ``chunk`` (which starts on ``line``); the line after it."""
    found = findall(chunk)  # tokens, and "" for each newline
    if "\n" not in chunk:
        texts += found
        lines += repeat(line, len(found))
        return line
    texts += filter(None, found)
    # the line of each token is ``line`` plus the newlines before it
    lines += compress(accumulate(map(not_, found), initial=line), found)
    return line + chunk.count("\n")


def _starts_line(text: str, at: int) -> bool:
    """Whether only blanks precede ``at`` on its line."""
    return not text[text.rfind("\n", 0, at) + 1 : at].strip(" \t")


def _tokenize(text: str) -> TokenColumns:
    texts: list[str] = []
    lines: list[int] = []
    comments: list[Comment] = []
    line = 1
    pos = 0  # where the code not yet tokenised starts
    search = _SPECIAL_RE.search
    findall = (_ASCII_CODE_RE if text.isascii() else _CODE_RE).findall
    m = search(text)
    while m is not None:
        start = m.start()
        kind = m.lastgroup
        if kind == "pp" and not _starts_line(text, start):
            m = search(text, start + 1)  # a stray '#' stays in the code, which drops it
            continue
        if start > pos:
            line = _code_tokens(findall, text[pos:start], line, texts, lines)
        pos = m.end()
        value = m.group()
        newlines = value.count("\n")
        if kind == "comment":
            comments.append(Comment(value, line, line + newlines))
        elif kind == "str":
            texts.append(value)
            lines.append(line)
        line += newlines  # a string or a preprocessor line continued with backslashes
        m = search(text, pos)
    if pos < len(text):
        _code_tokens(findall, text[pos:], line, texts, lines)
    kinds = tuple(map(_KINDS.__getitem__, texts))
    return TokenColumns(kinds, tuple(texts), tuple(lines), tuple(comments))


@lru_cache(maxsize=256)
def token_columns(text: str) -> TokenColumns:
    """The tokens and comments of C text, cached by content.

    The cache must hold a whole series (as cparse's parse cache does): the engine runs
    file rules on every post-image and pre-image, and duplicated-logic reads every file
    of the series again at the end.  Keyed by the text itself, so an edited SourceFile
    (a new text) can never see the tokens of its old text.
    """
    return _tokenize(text)


@lru_cache(maxsize=256)
def scan(text: str) -> tuple[tuple[Token, ...], tuple[Comment, ...]]:
    """Split C text into code tokens and comments (preprocessor lines are dropped)."""
    kinds, texts, lines, comments = token_columns(text)
    # tuple.__new__ straight from map: Token(...) would run a Python frame per token
    tokens = tuple(map(tuple.__new__, repeat(Token), zip(kinds, texts, lines, strict=True)))
    return tokens, comments
