"""The same non-trivial expression is written out again and again.

What it does
------------
Parses the added code with tree-sitter and collects arithmetic expressions with at
least two operators (binary operators or casts) and three operands, such as an address
computed from a block id, an index and a stride.  When the same expression (ignoring
whitespace) appears three times in the added lines of a file, or twice in one function,
it reports the first occurrence and lists the others.  Only the largest repeated
expression is reported, not every piece of it.

Why is this bad?
----------------
Long expressions repeated verbatim hide what the code is doing and invite a typo in one
copy.  A local variable or a small helper gives the value a name.  Reviewing the
virtio-mem CoCo RFC, David Hildenbrand asked for local variables or different helpers
for the repeated subblock address/size arithmetic: "There has to be some way to make
this readable".

Example
-------
```c
static int demo_share_range(struct demo_dev *dd, unsigned long blk, int idx, int run)
{
        int err;

        err = demo_set_decrypted(demo_blk_addr(blk) + idx * dd->unit_size,
                                 (u64)run * dd->unit_size);
        if (err)
                return err;
        demo_trace(demo_blk_addr(blk) + idx * dd->unit_size, (u64)run * dd->unit_size);
        return demo_notify(dd, demo_blk_addr(blk) + idx * dd->unit_size);
}
```

Use instead
-----------
```c
static int demo_share_range(struct demo_dev *dd, unsigned long blk, int idx, int run)
{
        const u64 addr = demo_blk_addr(blk) + idx * dd->unit_size;
        const u64 size = (u64)run * dd->unit_size;
        int err;

        err = demo_set_decrypted(addr, size);
        if (err)
                return err;
        demo_trace(addr, size);
        return demo_notify(dd, addr);
}
```

Known false positives
---------------------
Short idioms that are clearer inline, like ``i * 2 + 1`` in heap code, and
expressions that must be re-evaluated because a variable changed in between (the rule
does not track assignments).

References
----------
- "Re: [PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments",
  David Hildenbrand, 2026-04-01: "There has to be some way to make this readable. Like
  local variables or different helpers. Same applies to similar code below."
- Documentation/process/coding-style.rst, section 4 "Naming" and section 6 "Functions".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from tree_sitter import Node, Query, QueryCursor

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse.parse import C_LANGUAGE, function_at, parse

RULE = Rule(
    id="repeated-expression",
    severity=Severity.WARNING,
    scope="file",
    summary="a non-trivial expression is repeated; give it a local variable or a helper",
    confidence="high",
    options={
        "min_operators": 2,  # binary operators and casts
        "min_operands": 3,  # identifiers, fields and numbers
        "min_repeats_in_file": 3,
        "min_repeats_in_function": 2,
    },
)

_ROOTS = frozenset({"binary_expression", "cast_expression", "conditional_expression"})
_OPERATORS = frozenset({"binary_expression", "cast_expression", "conditional_expression"})
_OPERANDS = frozenset({"identifier", "field_identifier", "number_literal"})
_SPACE_RE = re.compile(r"\s+")


def _size(node: Node) -> tuple[int, int]:
    """(operators, operands) below and including ``node``."""
    operators = operands = 0
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in _OPERATORS:
            operators += 1
        elif n.type in _OPERANDS:
            operands += 1
        stack.extend(n.children)
    return operators, operands


def _text(node: Node) -> str:
    return _SPACE_RE.sub("", (node.text or b"").decode("utf-8", "replace"))


class _Occurrence:
    __slots__ = ("end", "line", "start")

    def __init__(self, node: Node) -> None:
        self.start = node.start_byte
        self.end = node.end_byte
        self.line = node.start_point[0] + 1


_ROOT_QUERY = Query(
    C_LANGUAGE,
    "[(binary_expression) (cast_expression) (conditional_expression)] @expr",
)


def _added_ranges(added: frozenset[int]) -> list[tuple[int, int]]:
    """Runs of consecutive added lines as (first, last), 1-based."""
    ranges: list[tuple[int, int]] = []
    for line in sorted(added):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], line)
        else:
            ranges.append((line, line))
    return ranges


def _collect(ctx: Context) -> dict[str, list[_Occurrence]]:
    assert ctx.file is not None
    added = ctx.file.added
    opts = {**RULE.options, **ctx.options}
    min_ops, min_operands = int(opts["min_operators"]), int(opts["min_operands"])
    root = parse(ctx.file.text).root_node
    # a query per run of added lines: unchanged code is never visited
    ranges = _added_ranges(added) if added else [(1, root.end_point[0] + 1)]
    found: dict[str, list[_Occurrence]] = defaultdict(list)
    seen: set[int] = set()
    for first, last in ranges:
        cursor = QueryCursor(_ROOT_QUERY)
        cursor.set_point_range((first - 1, 0), (last, 0))
        for node in cursor.captures(root).get("expr", []):
            line = node.start_point[0] + 1
            if added and line not in added:
                continue
            ops, operands = _size(node)
            if ops >= min_ops and operands >= min_operands:
                key = node.start_byte * 1_000_003 + node.end_byte
                if key in seen:
                    continue
                seen.add(key)
                found[_text(node)].append(_Occurrence(node))
    return found


def check(ctx: Context) -> Iterable[Finding]:
    if ctx.file is None:
        return
    opts = {**RULE.options, **ctx.options}
    text = ctx.file.text
    groups = _collect(ctx)
    repeated: dict[str, list[_Occurrence]] = {}
    for expr, occs in groups.items():
        occs.sort(key=lambda o: o.start)
        per_function: dict[str, int] = defaultdict(int)
        for occ in occs:
            span = function_at(text, occ.line)
            per_function[span.name if span else ""] += 1
        in_one_function = max((n for name, n in per_function.items() if name), default=0) >= int(
            opts["min_repeats_in_function"]
        )
        if len(occs) >= int(opts["min_repeats_in_file"]) or in_one_function:
            repeated[expr] = occs
    # report only the largest expression: drop one nested inside another repeated one
    spans = [(o.start, o.end, e) for e, occs in repeated.items() for o in occs]
    for expr, occs in sorted(repeated.items(), key=lambda item: item[1][0].start):
        nested = all(
            any(s <= o.start and o.end <= e and other != expr for s, e, other in spans)
            for o in occs
        )
        if nested:
            continue
        first = occs[0]
        span = function_at(text, first.line)
        shown = expr if len(expr) <= 60 else expr[:57] + "..."
        others = ", ".join(str(o.line) for o in occs[1:])
        plural = "s" if len(occs) > 2 else ""
        yield ctx.finding(
            f"'{shown}' is computed {len(occs)} times (also on line{plural} {others}); "
            "a local variable or a helper would make this readable",
            first.line,
            function=span.name if span else None,
            related=[Location(ctx.file.path, o.line, note="same expression") for o in occs[1:]],
            suggestion="compute it once into a well-named local variable, or add a helper "
            "that returns it",
        )
