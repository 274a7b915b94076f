"""A comment only repeats what the next statement already says.

What it does
------------
For every added comment it takes the statement that follows and compares words: the
comment's content words against the words of the statement's identifiers, split at
underscores and with kernel abbreviations spelled out (dec -> decrypted, sb -> subblock,
mem -> memory).  When most of the comment's words are already in the code it asks
whether the comment can go.  It never looks at kernel-doc (``/**``), SPDX lines,
comments that explain why (because, otherwise, so that, must, note, can, may, FIXME,
XXX, a question) or comments much longer than the code they sit on.

Why is this bad?
----------------
A comment that restates the call below it costs the reader time and goes stale when the
code changes.  Comments should say why, or what is not obvious.  On the virtio-mem CoCo
RFC the reviewer wrote of such a comment that it "can be mostly dropped. The code is
pretty clear."

Example
-------
```c
static void demo_release(struct demo_dev *dd)
{
        /* unlock the mutex */
        mutex_unlock(&dd->lock);
        /* Convert private->shared for CoCo before handing back to device */
        demo_coco_set_decrypted(dd->base, dd->size);
}
```

Use instead
-----------
```c
static void demo_release(struct demo_dev *dd)
{
        mutex_unlock(&dd->lock);
        /* The device only takes memory back once the guest has shared it. */
        demo_coco_set_decrypted(dd->base, dd->size);
}
```

Known false positives
---------------------
Section-marker comments in long functions ("/* allocate buffers */" before a block that
allocates buffers) are sometimes wanted for navigation.  The word comparison does not
understand grammar, so a comment that uses the code's words to say something else can
be flagged; it is phrased as a question for that reason.

References
----------
- "Re: [PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments",
  David Hildenbrand, 2026-04-01: "I think that comment can be mostly dropped. The code is
  pretty clear."
- Documentation/process/coding-style.rst, section 8 "Commenting": tell what the code
  does, not how, and avoid over-commenting.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from itertools import repeat

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.patterns import (
    Comment,
    Token,
    TokenColumns,
    expand_words,
    function_of,
    line_counts,
    prose_words,
    split_identifier,
    stem,
    token_columns,
)

RULE = Rule(
    id="restating-comment",
    severity=Severity.INFO,
    scope="file",
    summary="a comment only restates the statement below it",
    confidence="heuristic",
    patch_review_only=True,
    options={
        "min_overlap": 0.6,  # share of the comment's content words found in the code
        "min_words": 2,  # shorter comments ("/* ok */") are left alone
        "max_length_ratio": 3.0,  # comment words per code word above which it explains more
        "why_words": [
            "because",
            "otherwise",
            "so that",
            "must",
            "note",
            "can",
            "may",
            "fixme",
            "xxx",
            "todo",
            "since",
            "avoid",
            "ensure",
            "require",
            "required",
            "requires",
            "why",
            "hack",
            "workaround",
            "cannot",
            "never",
            "only",
            "unless",
            "until",
            "although",
        ],
    },
)

_STOP_TEXT = """a an the this that these those it its to of for in on at by with from into onto and
    or but then now here there be is are was were been being do does done we our us i you
    all each any some as if when before after again back also just up down out off over
    handing hand give giving pass passing time first via per one both"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())

# Words a statement implies without spelling them: set_memory_decrypted() converts
# private memory to shared, so a comment saying "convert private to shared" adds nothing.
_IMPLIED: dict[str, tuple[str, ...]] = {
    "decrypted": ("shared", "private", "convert", "conversion", "decrypt", "unencrypted"),
    "encrypted": ("private", "shared", "convert", "conversion", "encrypt", "accept"),
    "set": ("convert", "make", "mark", "change", "update"),
    "unlock": ("release", "drop"),
    "lock": ("take", "grab", "acquire", "hold"),
    "free": ("release", "drop"),
    "put": ("release", "drop", "reference"),
    "get": ("take", "grab", "reference"),
    "coco": ("confidential", "computing", "cc", "tdx", "snp", "sev"),
    "kfree": ("free",),
    "kzalloc": ("allocate", "zeroed"),
    "kmalloc": ("allocate",),
    "unplug": ("unplugging", "remove"),
}

_CODE_END = frozenset({";", "{"})


@lru_cache(maxsize=8)
def _why_regex(why_words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w.lower()) for w in why_words)
    return re.compile(rf"\?|\b(?:{alternatives})\b")


def _why_comment(body: str, why: re.Pattern[str]) -> bool:
    """``why`` is _why_regex() of the configured words, built once per file."""
    return why.search(body.lower()) is not None


_ARROW_RE = re.compile(r"[-=]+>")


def _content_words(body: str) -> list[str]:
    words = [w for w in prose_words(_ARROW_RE.sub(" ", body)) if w not in _STOP_WORDS]
    return [w for w in words if len(w) > 1 and not w.isdigit()]


def _code_vocabulary(words: list[str]) -> set[str]:
    """The statement's identifier words, spelled out, implied words and stems added."""
    vocab = expand_words(words)
    for word in list(vocab):
        vocab.update(_IMPLIED.get(word, ()))
    return vocab | {stem(w) for w in vocab}


def _statement_after(columns: TokenColumns, start: int) -> list[Token]:
    """Tokens of the statement from ``start``: up to ';' or '{' (at most 6 lines)."""
    texts, lines = columns.texts, columns.lines
    if start >= len(texts):
        return []
    end = bisect_right(lines, lines[start] + 6, start)  # the tokens within 6 lines
    for mark in _CODE_END:  # ... up to the first ';' or '{' among them
        try:
            end = min(end, texts.index(mark, start, end) + 1)
        except ValueError:
            continue
    found = zip(columns.kinds[start:end], texts[start:end], lines[start:end], strict=True)
    return list(map(tuple.__new__, repeat(Token), found))


def _code_around(lines: list[str], comment: Comment) -> tuple[bool, bool]:
    """(code before the comment on its first line, code after it on its last line)."""
    first = lines[comment.start_line - 1] if comment.start_line <= len(lines) else ""
    head = comment.text.split("\n", 1)[0]
    at = first.find(head)
    before = bool(first[: max(at, 0)].strip())
    last = lines[comment.end_line - 1] if comment.end_line <= len(lines) else ""
    tail = comment.text.rsplit("\n", 1)[-1]
    end = last.find(tail) + len(tail) if comment.start_line == comment.end_line else len(tail)
    end = at + len(head) if comment.start_line == comment.end_line else end
    after = bool(last[end:].strip())
    return before, after


def _in_function_body(text: str, complete: bool, lines: list[str], comment: Comment) -> bool:
    span = function_of(text, comment.start_line)
    if span is not None:
        return comment.start_line > span.body_start_line
    # A hunk-only post-image often lacks the function header: an indented comment in
    # it is taken to sit in a body (kernel style starts top-level comments in column 1).
    line = lines[comment.start_line - 1] if comment.start_line <= len(lines) else ""
    return not complete and line[:1] in ("\t", " ")


def _may_add_a_comment(lines: list[str], added: frozenset[int]) -> bool:
    """Whether an added line could start a comment: the rule reports only those, so a
    patch without one is not tokenised at all."""
    if not added:
        return True
    return any("/*" in lines[n - 1] or "//" in lines[n - 1] for n in added if 0 < n <= len(lines))


def check(ctx: Context) -> Iterable[Finding]:
    if ctx.file is None:
        return
    lines = ctx.file.lines
    if not _may_add_a_comment(lines, ctx.file.added):
        return
    opts = {**RULE.options, **ctx.options}
    columns = token_columns(ctx.file.text)
    why = _why_regex(tuple(opts["why_words"]))
    position = 0
    for comment in columns.comments:
        if not line_counts(ctx.file.added, comment.start_line):
            continue
        body = comment.body
        if comment.is_kernel_doc or "SPDX-License-Identifier" in body:
            continue
        if _why_comment(body, why):
            continue
        words = _content_words(body)
        if len(words) < int(opts["min_words"]):
            continue
        if not _in_function_body(ctx.file.text, ctx.file.complete, lines, comment):
            continue  # only comments on statements; headers and members document an API
        before, after = _code_around(lines, comment)
        if before:
            continue  # a trailing comment on a code line describes that line, not the next
        # the statement starts on the comment's last line when code follows it there
        boundary = comment.end_line - 1 if after else comment.end_line
        position = bisect_right(columns.lines, boundary, lo=position)
        statement = _statement_after(columns, position)
        if not statement or statement[0].text in ("}", "#"):
            continue
        code_words = [w for t in statement if t.kind == "id" for w in split_identifier(t.text)]
        if len(words) > float(opts["max_length_ratio"]) * max(1, len(code_words)):
            continue
        vocab = _code_vocabulary(code_words)
        matched = [w for w in words if w in vocab or stem(w) in vocab]
        overlap = len(matched) / len(words)
        if overlap < float(opts["min_overlap"]):
            continue
        callee = next(
            (
                t.text
                for i, t in enumerate(statement[:-1])
                if t.kind == "id" and statement[i + 1].text == "("
            ),
            None,
        )
        what = f"{callee}()" if callee else "the code below it"
        yield ctx.finding(
            f"this comment repeats what {what} already says; can it be dropped, or say why "
            "instead?",
            comment.start_line,
            suggestion="drop the comment, or replace it with the reason the code is needed",
        )
