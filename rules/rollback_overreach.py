"""An unwind loop converts back more pages than the failed loop converted.

What it does
------------
Looks for a loop that converts memory element by element (set_memory_decrypted() or
set_memory_encrypted(), directly or through a same-file helper) and leaves the loop on a
failure (``goto``, ``break`` or ``return``), followed by an unwind loop that a path in the
function's control-flow graph reaches after that conversion failed (at the goto target or
after the loop) and that makes the opposite conversion over the same whole range: the same
``for_each``/``list_for_each_entry`` header, or a ``for`` loop with the same bound that does
not depend on the index where the first loop stopped. An unwind that tests a per-element
"decrypted"/"shared"/"converted" flag, or counts down from the failure index
(``while (i--)``), is accepted.

Why is this bad?
----------------
If decrypting page k of n fails, pages k+1..n were never decrypted; they are still private.
Re-encrypting them asks the platform to accept private memory again (TDX: a second accept,
which Linux treats as a failure), so the unwind itself fails and leaks or panics. And
page k is in an unknown state after the failure, so it must be treated as shared (leaked)
rather than freed. Roll back exactly the elements that were converted.

Example
-------
```c
static int cc_heap_share_pages(struct page **pages, unsigned int npages)
{
        unsigned int i;
        int ret;

        for (i = 0; i < npages; i++) {
                ret = set_memory_decrypted((unsigned long)page_address(pages[i]), 1);
                if (ret)
                        goto reencrypt;
        }
        return 0;

reencrypt:
        for (i = 0; i < npages; i++)
                set_memory_encrypted((unsigned long)page_address(pages[i]), 1);
        return ret;
}
```

Use instead
-----------
```c
static int cc_heap_share_pages(struct page **pages, unsigned int npages)
{
        unsigned int i;
        int ret;

        for (i = 0; i < npages; i++) {
                ret = set_memory_decrypted((unsigned long)page_address(pages[i]), 1);
                if (ret)
                        goto reencrypt;
        }
        return 0;

reencrypt:
        /* page i is in an unknown state: leak it; roll back only pages 0..i-1 */
        while (i--)
                set_memory_encrypted((unsigned long)page_address(pages[i]), 1);
        return ret;
}
```

Known false positives
---------------------
Per-element state kept in a field with another name than decrypted/shared/converted
(a bitmap, a counter in a struct) is not recognised. Loops written with different but
equivalent headers are not matched at all (a false negative, not a false positive).

References
----------
Review of "dma-buf: move system_cc_shared heap under separate Kconfig" (2026-06-10: the
free_pages loop re-encrypts every page after a partial decrypt failure); MODEL-FACTS §3
(record which ranges were converted; roll back exactly those) and §4.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse import Node, placement
from patchbot.cparse.coco import file_hits
from patchbot.cparse.functions import analyze_file

RULE = Rule(
    id="rollback-overreach",
    severity=Severity.WARNING,
    scope="file",
    summary="error unwind converts back pages the failed loop never converted",
    confidence="heuristic",
)

TRACKED_RE = re.compile(r"decrypted|encrypted|shared|converted|private", re.IGNORECASE)
CONVERSION_NAME_RE = re.compile(r"\b\w*_(?:en|de)crypted\b")
COMPARE_RE = re.compile(r"^(?P<lhs>.+?)(?P<op><=|<|!=)(?P<rhs>.+)$")


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not placement.mentions_conversion(ctx.file.text) or not _two_conversions(ctx.file.text):
        return
    cf = placement.cfile(ctx.file.text)
    for func in cf.functions.values():
        conv = cf.conversion_calls(func)
        if len(conv) < 2:
            continue
        for call, dirs in conv:
            for loop in placement.enclosing_loops(call.node, func.node)[:1]:
                exits = _exits(loop)
                if not exits:
                    continue
                yield from _unwinds(ctx, cf, func, loop, call, dirs, exits)


# a name followed by "(": maybe a call.  The possessive \w*+ never gives back part of a
# name (a shorter prefix is followed by a word character, never by "(" or a space), so
# it matches the same names without retrying each identifier one character shorter
CALLED_RE = re.compile(r"\b([A-Za-z_]\w*+)\s*\(")


@lru_cache(maxsize=64)
def _two_conversions(text: str) -> bool:
    """Cheap pre-check on the cached analysis: can some function make two conversion
    calls (direct, or of same-file helpers that convert)?  Counts spelled names, so it
    over-counts, never under-counts."""
    functions = analyze_file(text).functions
    names = set(placement.ENCRYPT_CALLS | placement.DECRYPT_CALLS)
    grown = True
    while grown:  # same-file helpers that convert, transitively
        grown = False
        for func in functions:
            if func.name not in names and not func.words.isdisjoint(names):
                names.add(func.name)
                grown = True
    return any(
        _calls_named(placement.text_of(f.node.child_by_field_name("body")), names & f.words) >= 2
        for f in functions
        if not f.words.isdisjoint(names)
    )


def _calls_named(body: str, names: set[str]) -> int:
    """Calls in ``body`` that name one of ``names`` (as CALLED_RE sees them), or 0 when
    a plain count shows there cannot be two of them."""
    # every such call is a separate occurrence of its name, so fewer than two
    # occurrences in all settle it without the regex (most functions convert once)
    if sum(body.count(name) for name in names) < 2:
        return 0
    return sum(name in names for name in CALLED_RE.findall(body))


def _exits(loop: Node) -> list[str]:
    """How the loop body leaves on failure: goto labels, or 'after' for break/return."""
    body = placement.text_of(placement.loop_body(loop))
    exits = re.findall(r"\bgoto\s+(\w+)", body)
    if re.search(r"\b(break|return)\b", body):
        exits.append("")
    return exits


def _unwinds(
    ctx: Context,
    cf: placement.CFile,
    func: placement.Function,
    loop: Node,
    call: placement.Call,
    dirs: frozenset[str],
    exits: list[str],
) -> Iterable[Finding]:
    labels = _label_lines(func)
    starts = [labels[e] for e in exits if e and e in labels]
    if "" in exits:
        starts.append(loop.end_point[0] + 1)
    if not starts:
        return
    earliest = min(starts)
    domain = _domain(loop)
    wanted = {placement.opposite(d) for d in dirs}
    after_failure = _reached_after_failure(ctx, func, call, wanted)
    for other, odirs in cf.conversion_calls(func):
        if not (odirs & wanted):
            continue
        if after_failure is not None and other.line not in after_failure:
            continue  # no CFG path from the failed conversion reaches this one
        if other.line < earliest:
            continue
        for unwind in placement.enclosing_loops(other.node, func.node)[:1]:
            if unwind == loop or unwind.start_point[0] + 1 < earliest:
                continue
            if _domain(unwind) != domain or domain is None:
                continue
            if _tracks_progress(unwind, loop):
                continue
            yield ctx.finding(
                f"{func.name}() unwinds with {other.name}() over the whole range, but the loop "
                f"at line {loop.start_point[0] + 1} stops at the element whose {call.name}() "
                "failed; are elements that were never converted converted back here?",
                other.line,
                function=func.name,
                related=[
                    Location(
                        ctx.file.path if ctx.file else "",
                        call.line,
                        function=func.name,
                        note=f"{call.name}() can fail here",
                    )
                ],
                suggestion="roll back only the elements converted before the failure "
                "(while (i--) ...), and leak the one that failed",
            )
            return


def _reached_after_failure(
    ctx: Context, func: placement.Function, call: placement.Call, wanted: set[str]
) -> set[int] | None:
    """Lines of opposite conversions of the same memory that a CFG path reaches after
    ``call`` failed (the unwind path after a failure at index k).  None when the CFG
    layer does not see ``call`` as a conversion (a helper that does not return the
    conversion's result): then the unwind is looked for after the loop's exit instead."""
    assert ctx.file is not None
    where = call.node.start_point  # the two views parse separately: match by position
    fa = analyze_file(ctx.file.text)
    if not any(
        f.start_line == func.start_line and e.call.node.start_point == where
        for f in fa.functions
        for e in f.events_of("conversion")
    ):
        return None
    return {
        hit.event.line
        for f, hit in file_hits(ctx.file.text)
        if f.start_line == func.start_line
        and hit.start.call.node.start_point == where
        and hit.event.kind == "conversion"
        and hit.start_status == "failed"
        and hit.event.entry.direction in wanted
    }


def _label_lines(func: placement.Function) -> dict[str, int]:
    out: dict[str, int] = {}
    stack = [func.node]
    while stack:
        node = stack.pop()
        if node.type == "labeled_statement":
            label = node.child_by_field_name("label")
            out[placement.text_of(label)] = node.start_point[0] + 1
        stack.extend(node.children)
    return out


def _domain(loop: Node) -> str | None:
    """What a loop ranges over, independent of the index variable's name."""
    if loop.type == "compound_statement":
        return "macro:" + placement.loop_header_text(loop)
    cond = placement.squash(placement.text_of(loop.child_by_field_name("condition")))
    if loop.type == "while_statement" and "," in cond:
        return "macro:" + cond  # a normalised for_each macro: (cursor, container, ...)
    if loop.type != "for_statement":
        return None
    match = COMPARE_RE.match(cond)
    if not match:
        return None
    return "bound:" + match.group("rhs")


def _index_var(loop: Node) -> str | None:
    if loop.type != "for_statement":
        return None
    cond = placement.squash(placement.text_of(loop.child_by_field_name("condition")))
    match = COMPARE_RE.match(cond)
    return match.group("lhs") if match else None


def _tracks_progress(unwind: Node, loop: Node) -> bool:
    """The unwind checks per-element state or where the first loop stopped."""
    body = placement.loop_body(unwind)
    for node in _ifs(body):
        cond = placement.text_of(node.child_by_field_name("condition"))
        cond = CONVERSION_NAME_RE.sub("", cond)  # the unwind's own call says nothing
        if TRACKED_RE.search(cond):
            return True
        index = _index_var(loop)
        if index and re.search(
            rf"(<|>|==|!=)=?\s*{re.escape(index)}\b|\b{re.escape(index)}\s*(<|>|==|!=)", cond
        ):
            return True  # e.g. "if (j >= i) break;": stops where the first loop stopped
    return False


def _ifs(node: Node) -> Iterable[Node]:
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == "if_statement":
            yield cur
        stack.extend(cur.children)
