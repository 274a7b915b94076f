"""Which object a path is about, and the flag values it carries (for ``paths``).

The coarse buffer keys (``exprs.buffer_key``) say two calls name the same memory when
their arguments end in the same identifier or field.  Along one path that is not enough;
three kernel idioms change what a later call is about (issue 18, measured on 6.12's
drivers/hv/hv.c, five of twelve audit findings):

* **the pointer is cleared**: ``if (set_memory_encrypted(p->page, 1)) p->page = NULL;``
  then ``free_page((unsigned long)p->page)`` frees NULL, a no-op: the page is leaked on
  purpose.  ``clears_memory()`` spots the assignment of 0/NULL to the lvalue the
  conversion converted.
* **the object is a new one**: in ``for_each_cpu() { struct pcpu *pc = per_cpu_ptr();
  ... }`` the conversion of ``pc->page`` in one iteration says nothing about
  ``pc->page`` in the next.  ``rebinds_object()`` spots an assignment to the root
  variable of the converted lvalue (``pc``) after the conversion.
* **the failure is recorded in a flag**: ``if (ret) { leak = true; goto out; } ... out:
  if (!leak) free_pages(...)``.  ``flag_assignments()`` lists the constant truth values
  a statement gives to lvalues (``leak = true``, ``buf->leaked = 1``) and
  ``flag_truth()`` evaluates a branch condition against them, so the walk prunes the
  contradicting branch.

All of it is syntactic: lvalues are compared as whitespace-free text, after peeling casts,
``&`` and the address converters ``buffer_key`` already looks through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from patchbot.cparse.exprs import as_call, strip, text_of

if TYPE_CHECKING:
    from tree_sitter import Node

    from patchbot.cparse.functions import Function, MemEvent

Flags = frozenset[tuple[str, bool]]

_NULLS = frozenset({"0", "NULL", "0UL", "0L", "(void*)0"})
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false"})  # not "0": counters and rc start at 0 and change by ++/+=
# calls that name the same object as their single argument (a page and its address)
_CONVERTERS = re.compile(
    r"^(page_address|page_to_virt|virt_to_page|__va|__pa|virt_to_phys|phys_to_virt|"
    r"page_to_phys|pfn_to_page|page_to_pfn|lm_alias|vmalloc_to_page)$"
)
_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def memory_lvalue(event: MemEvent) -> str | None:
    """The converted object as an lvalue text: ``(unsigned long)hv_cpu->page`` ->
    ``hv_cpu->page``, ``page_address(pg)`` -> ``pg``; None when it is no lvalue."""
    node = strip(event.call.arg(event.entry.arg))
    while node is not None:
        if node.type == "call_expression":
            call = as_call(node)
            if call is None or len(call.args) != 1 or not _CONVERTERS.match(call.name):
                return None
            node = strip(call.args[0])
        elif node.type == "pointer_expression" and _operator(node) == "&":
            node = strip(node.child_by_field_name("argument"))
        else:
            break
    if node is None or node.type not in ("identifier", "field_expression", "subscript_expression"):
        return None
    return _squash(text_of(node))


def _operator(node: Node) -> str:
    return text_of(node.child_by_field_name("operator"))


def _root(lvalue: str) -> str:
    return re.split(r"->|\.|\[", lvalue, maxsplit=1)[0]


def _assignment_nodes(func: Function, node_id: int) -> list[Node]:
    """The assignment / init-declarator nodes of one CFG node (cached on the function)."""
    cache: dict[int, list[Node]] | None = getattr(func, "_objects_assignments", None)
    if cache is None:
        cache = {}
        func._objects_assignments = cache  # type: ignore[attr-defined]
    found = cache.get(node_id)
    if found is None:
        spans = {(start, end) for _name, start, end in func.assignments_at(node_id)}
        found = [n for n in func.assignments() if (n.start_byte, n.end_byte) in spans]
        cache[node_id] = found
    return found


def _sides(node: Node) -> tuple[str, str | None]:
    """(left lvalue text, right value text) of ``x = v`` or ``T x = v``."""
    if node.type == "assignment_expression":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        op = text_of(node.child_by_field_name("operator"))
        value = _squash(text_of(strip(right))) if op == "=" else None
        return _squash(text_of(left)), value
    decl = node.child_by_field_name("declarator")
    while decl is not None and decl.type == "pointer_declarator":
        decl = decl.child_by_field_name("declarator")
    value_node = node.child_by_field_name("value")
    value = _squash(text_of(strip(value_node))) if value_node is not None else None
    return _squash(text_of(decl)), value


def clears_memory(func: Function, node_id: int, lvalue: str | None) -> bool:
    """Does this CFG node set the converted lvalue to NULL/0 (so later frees are no-ops)?"""
    if lvalue is None:
        return False
    return any(
        left == lvalue and value in _NULLS
        for left, value in map(_sides, _assignment_nodes(func, node_id))
    )


def rebinds_object(func: Function, node_id: int, lvalue: str | None, conv: MemEvent) -> bool:
    """Does this CFG node point the converted lvalue's root variable at another object?
    (The conversion's own statement, ``ret = set_memory_...(p)``, does not count.)"""
    if lvalue is None or node_id == conv.node:
        return False
    root = _root(lvalue)
    if root == lvalue:
        return False  # a plain variable: reassignments are alias business (functions.py)
    return any(left == root for left, _value in map(_sides, _assignment_nodes(func, node_id)))


def flag_assignments(func: Function, node_id: int) -> list[tuple[str, bool | None]]:
    """(lvalue, truth) for each assignment in the node; truth None when not a constant."""
    out: list[tuple[str, bool | None]] = []
    for left, value in map(_sides, _assignment_nodes(func, node_id)):
        truth = True if value in _TRUE else False if value in _FALSE else None
        out.append((left, truth))
    return out


def failure_flags(event: MemEvent) -> list[tuple[str, bool | None]]:
    """The caller-side flags a failed call of a summarised helper leaves true:
    ``vmbus_establish_gpadl(ch, buf, n, &pd->gpadl)`` -> ``pd->gpadl.decrypted``."""
    out: list[tuple[str, bool | None]] = []
    for position, field_name in event.entry.failure_flags:
        arg = strip(event.call.arg(position))
        if arg is None:
            continue
        if arg.type == "pointer_expression" and _operator(arg) == "&":
            inner = strip(arg.child_by_field_name("argument"))
            if inner is not None:
                out.append((f"{_squash(text_of(inner))}.{field_name}", True))
        else:
            out.append((f"{_squash(text_of(arg))}->{field_name}", True))
    return out


def update_flags(flags: Flags, changes: Iterable[tuple[str, bool | None]]) -> Flags:
    result = dict(flags)
    for left, truth in changes:
        if truth is None:
            result.pop(left, None)
        else:
            result[left] = truth
    return frozenset(result.items())


def flag_truth(cond: Node | None, flags: Flags) -> bool | None:
    """The value of a branch condition that only tests known flags (None if unknown):
    ``leak``, ``!leak``, ``p->leaked == 0``, ``!x && !y``..."""
    if not flags:
        return None
    known = dict(flags)
    return _truth(strip(cond), known)


def _truth(node: Node | None, known: dict[str, bool]) -> bool | None:
    if node is None:
        return None
    if node.type in ("identifier", "field_expression"):
        return known.get(_squash(text_of(node)))
    if node.type == "unary_expression" and text_of(node.child_by_field_name("operator")) == "!":
        inner = _truth(strip(node.child_by_field_name("argument")), known)
        return None if inner is None else not inner
    if node.type == "binary_expression":
        op = text_of(node.child_by_field_name("operator"))
        left = _truth(strip(node.child_by_field_name("left")), known)
        right_node = strip(node.child_by_field_name("right"))
        if op in ("==", "!=") and right_node is not None:
            constant = _squash(text_of(right_node))
            if left is None or constant not in _TRUE | _FALSE:
                return None
            equal = left == (constant in _TRUE)
            return equal if op == "==" else not equal
        right = _truth(right_node, known)
        if op == "&&":
            if left is False or right is False:
                return False
            return True if left and right else None
        if op == "||":
            if left is True or right is True:
                return True
            return False if left is False and right is False else None
    return None


__all__ = [
    "Flags",
    "clears_memory",
    "failure_flags",
    "flag_assignments",
    "flag_truth",
    "memory_lvalue",
    "rebinds_object",
    "update_flags",
]
