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

from collections import defaultdict
from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.patterns import Expression, compound_expressions, function_of

RULE = Rule(
    id="repeated-expression",
    severity=Severity.WARNING,
    scope="file",
    summary="a non-trivial expression is repeated; give it a local variable or a helper",
    confidence="high",
    patch_review_only=True,
    options={
        "min_operators": 2,  # binary operators and casts
        "min_operands": 3,  # identifiers, fields and numbers
        "min_repeats_in_file": 3,
        "min_repeats_in_function": 2,
    },
)


def _collect(ctx: Context) -> dict[str, list[Expression]]:
    assert ctx.file is not None
    opts = {**RULE.options, **ctx.options}
    found: dict[str, list[Expression]] = defaultdict(list)
    for expr in compound_expressions(
        ctx.file.text, ctx.file.added, int(opts["min_operators"]), int(opts["min_operands"])
    ):
        found[expr.text].append(expr)
    return found


def check(ctx: Context) -> Iterable[Finding]:
    if ctx.file is None:
        return
    opts = {**RULE.options, **ctx.options}
    text = ctx.file.text
    groups = _collect(ctx)
    repeated: dict[str, list[Expression]] = {}
    for expr, occs in groups.items():
        occs.sort(key=lambda o: o.start)
        per_function: dict[str, int] = defaultdict(int)
        for occ in occs:
            span = function_of(text, occ.line)
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
        span = function_of(text, first.line)
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
