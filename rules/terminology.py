"""A comment or name uses a term for something the code does not do.

What it does
------------
In confidential-computing memory code (a file that converts memory, tests
cc_platform_has() or speaks of TDX/SNP/CoCo; see ``coco_markers``), for each function it
gathers the words of its added comments (including the comment block just above it) and
of its added identifiers.  A use counts only next to a memory word (memory, page, range,
block, plugged...), so "accept the features" is left alone.  When one of them uses a term from
the ``terms`` option, the function must call one of the functions that term stands for;
otherwise the rule asks where that happens.  The default term is memory *acceptance*:
only accept_memory() and the TDX/SEV-SNP accept helpers accept memory, so a function
that speaks of accepting but only calls set_memory_encrypted() uses the wrong word.
Each function is reported once.

Why is this bad?
----------------
In confidential-computing guests "accept" has a precise meaning (TDX TDG.MEM.PAGE.ACCEPT,
SEV-SNP PVALIDATE via accept_memory()).  Using it for a private/shared conversion makes
reviewers hunt for an acceptance step that is not there, and hides whether the memory
really is accepted before use.  The reviewer of the virtio-mem CoCo RFC asked: "Where is
the 'acceptance' happening?"

Example
-------
```c
/* Accept hotplugged memory before the buddy sees it. */
static int demo_coco_accept_range(u64 addr, u64 size)
{
        return set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(size));
}
```

Use instead
-----------
```c
/* Make hotplugged memory private before the buddy sees it. */
static int demo_coco_set_private(u64 addr, u64 size)
{
        return set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(size));
}
```

Known false positives
---------------------
A function that documents where acceptance happens elsewhere ("memory was accepted by
firmware") uses the word legitimately; so does a function that calls a helper whose
name does not contain the term but accepts memory inside it.  Add the helper to the
term's ``calls`` list in the config.

References
----------
- "Re: [PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments",
  David Hildenbrand, 2026-04-01: "Where is the 'acceptance' happening? Do we have to use
  the term 'acceptance' in this file at all when all we're doing is calling
  set_memory_encrypted()?"
- Documentation/x86/tdx.rst (memory acceptance) and include/linux/mm.h accept_memory()
  in later kernels; arch/x86/coco/tdx/tdx.c in 6.1 accepts pages during conversion.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.cparse.parse import FunctionSpan, function_spans
from patchbot.patterns import Comment, Token, line_counts, prose_words, scan, split_identifier

RULE = Rule(
    id="terminology-mismatch",
    severity=Severity.WARNING,
    scope="file",
    summary="a term in a comment or name (e.g. 'accept') does not match what the code calls",
    confidence="heuristic",
    options={
        # lower-case text that marks a file as CoCo memory code; elsewhere "accept"
        # means too many other things (features, connections, interrupts)
        "coco_markers": [
            "set_memory_encrypted",
            "set_memory_decrypted",
            "cc_platform_has",
            "accept_memory",
            "coco",
            "tdx",
            "sev_snp",
            "snp_",
        ],
        "terms": [
            {
                "term": "acceptance",
                "phrase": "accepting memory",
                "words": ["accept", "accepts", "accepted", "accepting", "acceptance"],
                "calls": [
                    "accept_memory",
                    "arch_accept_memory",
                    "tdx_accept_memory",
                    "snp_accept_memory",
                    "tdx_accept_page",
                    "try_accept_one",
                    "accept_page",
                ],
                # calls that are mistaken for it, named in the message when present
                "lookalikes": ["encrypted", "encrypt", "private"],
                # a use counts only next to one of these words ("accept features" is
                # virtio feature negotiation, not memory acceptance)
                "context": [
                    "memory",
                    "mem",
                    "page",
                    "pages",
                    "pfn",
                    "range",
                    "block",
                    "blocks",
                    "subblock",
                    "subblocks",
                    "sb",
                    "mb",
                    "bb",
                    "chunk",
                    "chunks",
                    "plugged",
                    "hotplugged",
                    "private",
                    "encrypted",
                    "addr",
                    "phys",
                    "unaccepted",
                ],
            }
        ],
    },
)


def _calls(tokens: Sequence[Token], span: FunctionSpan) -> list[str]:
    """Functions called in the body; ``tokens`` are the function's own tokens."""
    names: list[str] = []
    for i, tok in enumerate(tokens[:-1]):
        if (
            tok.line >= span.body_start_line
            and tok.kind == "id"
            and tokens[i + 1].text == "("
            and tok.text not in names
        ):
            names.append(tok.text)
    return names


_NEGATIONS = frozenset({"not", "never", "no", "without", "nothing", "isn"})


def _affirms(prose: list[str], words: set[str], context: set[str]) -> bool:
    """A comment uses the term for memory: "never accepted" and "accept the features"
    do not count; a context word must sit within four words of the term."""
    for i, word in enumerate(prose):
        if word not in words or _NEGATIONS & set(prose[max(0, i - 2) : i]):
            continue
        if not context or context & set(prose[max(0, i - 4) : i + 5]):
            return True
    return False


def _leading_comment_start(comments: Sequence[Comment], span: FunctionSpan) -> int:
    """First line of the comment block that ends right above the function, if any."""
    start = span.start_line
    for comment in reversed(comments):
        if comment.end_line == start - 1:
            start = comment.start_line
        elif comment.end_line < start - 1:
            break
    return start


def _term_uses(
    added: frozenset[int],
    words: set[str],
    context: set[str],
    tokens: Sequence[Token],
    comments: Sequence[Comment],
) -> list[int]:
    """Counted lines where one of the comments or identifiers given uses ``words``."""
    lines: list[int] = []
    for comment in comments:
        if _affirms(prose_words(comment.body), words, context):
            lines.extend(
                ln
                for ln in range(comment.start_line, comment.end_line + 1)
                if line_counts(added, ln)
            )
    for tok in tokens:
        if (
            tok.kind == "id"
            and line_counts(added, tok.line)
            and _affirms(split_identifier(tok.text), words, context)
        ):
            lines.append(tok.line)
    return sorted(set(lines))


def _between(items: Sequence, starts: list[int], first: int, last: int) -> Sequence:
    """The items whose start line lies in [first, last] (``starts`` is sorted)."""
    return items[bisect.bisect_left(starts, first) : bisect.bisect_right(starts, last)]


def check(ctx: Context) -> Iterable[Finding]:
    if ctx.file is None:
        return
    opts = {**RULE.options, **ctx.options}
    lowered = ctx.file.text.lower()
    if not any(marker in lowered for marker in opts["coco_markers"]):
        return  # the terms are only precise in CoCo memory code
    terms = [t for t in opts["terms"] if any(w.lower() in lowered for w in t["words"])]
    if not terms:
        return  # the common case: the file never uses any of the terms
    tokens, comments = scan(ctx.file.text)
    token_lines = [t.line for t in tokens]
    comment_lines = [c.start_line for c in comments]
    for span in function_spans(ctx.file.text):
        own_tokens = _between(tokens, token_lines, span.start_line, span.end_line)
        first = _leading_comment_start(
            _between(comments, comment_lines, 1, span.start_line - 1), span
        )
        own_comments = _between(comments, comment_lines, first, span.end_line)
        calls: list[str] | None = None
        for term in terms:
            words = {w.lower() for w in term["words"]}
            context = {w.lower() for w in term.get("context", [])}
            uses = _term_uses(ctx.file.added, words, context, own_tokens, own_comments)
            if not uses:
                continue
            if calls is None:
                calls = _calls(own_tokens, span)
            call_words = {w for name in calls for w in split_identifier(name)}
            if span.name in term["calls"]:
                continue  # the function is one of the implementations of the term
            if set(term["calls"]) & set(calls) or words & call_words:
                continue  # it does call what the term names (directly or via a helper)
            lookalike_words = set(term.get("lookalikes", []))
            lookalikes = [c for c in calls if lookalike_words & set(split_identifier(c))]
            if lookalikes:
                does = "it only calls " + ", ".join(f"{c}()" for c in lookalikes[:2])
            else:
                does = f"it never calls {term['calls'][0]}()"
            yield ctx.finding(
                f"{span.name}() speaks of {term['phrase']}, but {does}; where does "
                f"{term['term']} happen?",
                uses[0],
                function=span.name,
                suggestion=f"name and describe what the code does, or call "
                f"{term['calls'][0]}() where {term['term']} is really needed",
            )
            break  # once per function
