"""Same-file wrapper summaries, iterated to a fixed point.

A static helper that returns the result of a conversion (``return set_memory_decrypted(
(unsigned long)__va(addr), n);`` or ``rc = ...; return rc;``) is itself a conversion of
that direction, with the memory argument at the position of the parameter the inner
call's memory argument derives from.  A helper named for releasing memory (free, release,
unplug, put, destroy) that frees or hands back a parameter's memory — and does not
convert it itself — is a free / hand-back wrapper.
Wrappers of wrappers are found by iterating until nothing changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchbot.cparse.catalogue import ApiEntry, Catalogue
from patchbot.cparse.exprs import (
    Call,
    assignment_value,
    identifiers_in,
    result_variable,
    strip,
    text_of,
)

if TYPE_CHECKING:
    from patchbot.cparse.functions import Function

# A helper counts as a free/hand-back wrapper only when its name says that is its job:
# plenty of functions free or unplug on an error path only (plug_and_add_mb) and must not
# turn their callers into "frees".
_RELEASE_WORDS = ("free", "release", "unplug", "put", "destroy", "return")
_MAX_ROUNDS = 8  # wrapper chains deeper than this do not occur in practice


def _param_index(func: Function, expr_key: str | None, expr_ids: set[str]) -> int | None:
    if expr_key is not None:
        for i, name in enumerate(func.params):
            if name and (name == expr_key or func.resolve(name) == expr_key):
                return i
    for i, name in enumerate(func.params):
        if name and name in expr_ids:
            return i
    return None


def _is_constant(expr: str) -> bool:
    """0, NULL, -EINVAL, -ENOMEM...: a return that carries no other call's result."""
    expr = expr.replace(" ", "")
    return (
        expr in ("0", "NULL", "false", "true", "")
        or expr.lstrip("-").isdigit()
        or (expr.startswith("-E") and expr[1:].isupper())
    )


def _assignments(func: Function, var: str) -> int:
    count = 0
    for cur, name in zip(func.assignments(), func.assigned_names(), strict=True):
        if name == var:
            count += 1 if cur.type == "assignment_expression" or assignment_value(cur) else 0
    return count


def _returned_exprs(func: Function) -> list[str]:
    out = []
    for node in func.cfg.nodes:
        if node.kind == "return" and node.ast is not None and node.ast.named_children:
            out.append(text_of(strip(node.ast.named_children[0])))
    return out


def _mapped_flags(func: Function, call: Call, entry: ApiEntry) -> tuple[tuple[int, str], ...]:
    """The callee's failure flags on our parameters (``gpadl`` passed through)."""
    out: list[tuple[int, str]] = []
    for position, field_name in entry.failure_flags:
        arg = call.arg(position)
        index = _param_index(func, func.key_of(arg), identifiers_in(arg))
        if index is not None:
            out.append((index, field_name))
    return tuple(out)


def _summarise_one(func: Function, catalogue: Catalogue) -> ApiEntry | None:
    named = catalogue.names_among(func.words)
    if not named:
        return None  # calls nothing catalogued or summarised: cannot wrap anything
    returned: set[str] | None = None
    # only the catalogued calls matter below; named_calls() finds just those
    calls = [c for _nid, c in func.named_calls(named)]
    converted_params: set[int] = set()
    for call in calls:
        entry = catalogue.get(call.name)
        if entry is None or entry.kind != "conversion":
            continue
        arg = call.arg(entry.arg)
        index = _param_index(func, func.key_of(arg), identifiers_in(arg))
        if index is None:
            continue
        converted_params.add(index)
        var = result_variable(call)
        mine = {text_of(call.node), var}
        if returned is None:
            returned = set(_returned_exprs(func))
        if (
            returned & mine
            and all(r in mine or _is_constant(r) for r in returned)
            and (var is None or _assignments(func, var) == 1)
        ):
            return ApiEntry(
                func.name,
                "conversion",
                index,
                direction=entry.direction,
                wrapper_of=call.name,
                failure_flags=_mapped_flags(func, call, entry),
            )
    if not any(word in func.name for word in _RELEASE_WORDS):
        return None
    for call in calls:
        entry = catalogue.get(call.name)
        if entry is None or entry.kind not in ("free", "handback"):
            continue
        index = _param_index(func, func.key_of(call.arg(entry.arg)), set())
        if index is not None and index not in converted_params:
            return ApiEntry(func.name, entry.kind, index, wrapper_of=call.name)
    return None


def summarise(functions: list[Function], base: Catalogue) -> dict[str, ApiEntry]:
    """Derived entries for this file's wrappers (never overriding catalogued names)."""
    found: dict[str, ApiEntry] = {}
    for _round in range(_MAX_ROUNDS):
        catalogue = base.with_entries(found)
        changed = False
        for func in functions:
            if base.get(func.name) is not None or func.name in found:
                continue
            entry = _summarise_one(func, catalogue)
            if entry is not None:
                found[func.name] = entry
                changed = True
        if not changed:
            break
    return found


__all__ = ["summarise"]
