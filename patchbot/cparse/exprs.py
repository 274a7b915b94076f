"""Expression helpers over tree-sitter nodes: calls, buffer keys, branch implications.

Buffer matching is deliberately coarse (documented in patchbot/cparse/__init__.py): an
expression naming memory is reduced to one *key*, the identifier at its root after
peeling casts, ``&``/``*``, address/page converters (``__va``, ``page_address``...),
arithmetic (``addr + off`` -> ``addr``), indexing (``pages[i]`` -> ``pages``) and field
chains (``vm->sbm.buf`` -> ``buf``).  Two calls touch "the same memory" when their keys
are equal after the function's simple aliases (``addr = page_address(page)``) are merged.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tree_sitter import Node, Query, QueryCursor

from patchbot.cparse.parse import C_LANGUAGE

# Calls that only change how the same memory is named (address <-> page <-> pfn).
TRANSPARENT_CALLS = frozenset(
    [
        "__va",
        "__pa",
        "page_address",
        "virt_to_page",
        "page_to_virt",
        "pfn_to_page",
        "page_to_pfn",
        "PFN_DOWN",
        "PFN_UP",
        "PHYS_PFN",
        "PFN_PHYS",
        "virt_to_phys",
        "phys_to_virt",
        "page_to_phys",
        "phys_to_page",
        "pfn_to_kaddr",
        "lm_alias",
        "virt_to_pfn",
        "sg_page",
        "sg_virt",
        "folio_address",
        "folio_page",
        "page_folio",
        "virt_to_folio",
        "folio_pfn",
        "pfn_to_virt",
        "untagged_addr",
        "kasan_reset_tag",
    ]
)
# Calls wrapping a condition without changing its truth value.
CONDITION_WRAPPERS = frozenset(
    ["unlikely", "likely", "WARN_ON", "WARN_ON_ONCE", "WARN", "WARN_ONCE", "WARN_RATELIMIT"]
)


def text_of(node: Node | None) -> str:
    if node is None:
        return ""
    raw = node.text  # read once: each read copies the bytes out of the source again
    return raw.decode("utf-8", "replace") if raw is not None else ""


def line_of(node: Node) -> int:
    return node.start_point[0] + 1


@dataclass(frozen=True)
class Call:
    name: str
    node: Node
    args: tuple[Node, ...]

    @property
    def line(self) -> int:
        return line_of(self.node)

    def arg(self, index: int) -> Node | None:
        return self.args[index] if 0 <= index < len(self.args) else None

    @property
    def span(self) -> tuple[int, int]:
        return (self.node.start_byte, self.node.end_byte)


_new_object = object.__new__
_set_attribute = object.__setattr__


def as_call(node: Node) -> Call | None:
    if node.type != "call_expression":
        return None
    func = node.child_by_field_name("function")
    if func is None or func.type != "identifier":
        return None
    arglist = node.child_by_field_name("arguments")
    args = tuple([c for c in arglist.named_children if c.type != "comment"]) if arglist else ()
    raw = func.text  # text_of(func), inlined: this runs for every call of every function
    name = raw.decode("utf-8", "replace") if raw is not None else ""
    # Call(name, node, args) without the frozen dataclass's __init__ (a guarded setattr
    # per field): the analysis makes thousands; the result is an ordinary, equal Call
    call = _new_object(Call)
    _set_attribute(call, "__dict__", {"name": name, "node": node, "args": args})
    return call


def calls_in(node: Node | None) -> Iterator[Call]:
    """Every named call under ``node`` (outermost first, then nested ones)."""
    if node is None:
        return
    stack = [node]
    while stack:
        cur = stack.pop()
        call = as_call(cur)
        if call is not None:
            yield call
        stack.extend(reversed(cur.named_children))


# The same calls calls_in() finds, and the assignments alias and summary code reads,
# matched in C: walking every node in Python was the largest cost of analysing a file.
_OUTLINE_QUERY = Query(
    C_LANGUAGE,
    "(call_expression function: (identifier)) @call"
    " [(assignment_expression) (init_declarator)] @assign",
)


@dataclass(frozen=True)
class Outline:
    """Named calls and assignments under one node (a whole file), sorted by start byte."""

    calls: list[Node]
    assignments: list[Node]
    call_starts: list[int]
    assignment_starts: list[int]

    @staticmethod
    def of(node: Node) -> Outline:
        found = QueryCursor(_OUTLINE_QUERY).captures(node)
        calls = sorted(found.get("call", []), key=lambda n: (n.start_byte, -n.end_byte))
        assigns = sorted(found.get("assign", []), key=lambda n: (n.start_byte, -n.end_byte))
        return Outline(
            calls, assigns, [n.start_byte for n in calls], [n.start_byte for n in assigns]
        )

    def calls_within(self, node: Node) -> list[Node]:
        """The call nodes calls_in(node) visits, in the same (pre)order."""
        return _within(self.calls, self.call_starts, node)

    def assignments_within(self, node: Node) -> list[Node]:
        """``x = v`` / ``T x = v`` nodes under ``node`` in the order of a stack walk that
        pops the last child first (callers keep the first match, so the order matters):
        that is the reverse of post-order."""
        inside = _within(self.assignments, self.assignment_starts, node)
        inside.sort(key=lambda n: (n.end_byte, -n.start_byte), reverse=True)
        return inside


# The operator tokens of assignment_expression and init_declarator: each holds exactly
# one "=" character, so the "=" characters of a text find every assignment once.
_ASSIGN_TOKENS = frozenset(["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="])
_ASSIGN_TYPES = ("assignment_expression", "init_declarator")
_IDENT_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def scan_assignments(node: Node, raw: bytes) -> list[Node]:
    """The assignment nodes Outline.of(node).assignments lists, found from the "=" bytes
    of ``raw`` (``node.text``) instead of a query over every node.  Only for trees
    without errors: a MISSING "=" has no byte to find."""
    base = node.start_byte
    found: list[tuple[int, int, Node]] = []
    at = raw.find(b"=")
    while at >= 0:
        offset = base + at
        token = node.descendant_for_byte_range(offset, offset + 1)
        if token is not None and token.type in _ASSIGN_TOKENS:
            parent = token.parent
            if parent is not None and parent.type in _ASSIGN_TYPES:
                found.append((parent.start_byte, -parent.end_byte, parent))
        at = raw.find(b"=", at + 1)
    found.sort(key=lambda item: item[:2])
    return [item[2] for item in found]


def scan_calls(node: Node, raw: bytes, names: Iterable[str]) -> list[Node]:
    """The call_expression nodes under ``node`` whose callee is an identifier spelled as
    one of ``names``, in start order: the members of Outline.of(node).calls with those
    names, found by searching ``raw`` (``node.text``) for the names.  Only for trees
    without errors."""
    base = node.start_byte
    found: list[tuple[int, Node]] = []
    for name in names:
        needle = name.encode("utf-8", "surrogateescape")
        size = len(needle)
        at = raw.find(needle)
        while at >= 0:
            end = at + size
            # a whole identifier only: "kfree" inside "kfree_sensitive" is not a call of it
            if (at == 0 or raw[at - 1] not in _IDENT_BYTES) and (
                end == len(raw) or raw[end] not in _IDENT_BYTES
            ):
                offset = base + at
                ident = node.descendant_for_byte_range(offset, offset + size)
                if (
                    ident is not None
                    and ident.type == "identifier"
                    and ident.start_byte == offset
                    and ident.end_byte == offset + size
                ):
                    call = ident.parent
                    # the callee is the call's first child; its arguments start with "("
                    if (
                        call is not None
                        and call.type == "call_expression"
                        and call.start_byte == offset
                    ):
                        found.append((offset, call))
            at = raw.find(needle, at + 1)
    found.sort(key=lambda item: item[0])
    return [item[1] for item in found]


def _within(nodes: list[Node], starts: list[int], node: Node) -> list[Node]:
    end = node.end_byte
    out = []
    for index in range(bisect_left(starts, node.start_byte), len(nodes)):
        cur = nodes[index]
        if cur.start_byte >= end:
            break
        if cur.end_byte <= end:
            out.append(cur)
    return out


def strip(node: Node | None) -> Node | None:
    """Peel parentheses, casts and likely()/unlikely()/WARN_ON() around an expression."""
    while node is not None:
        kind = node.type  # read once: each read builds a new str in the binding
        if kind == "parenthesized_expression" and node.named_children:
            node = node.named_children[0]
        elif kind == "cast_expression":
            node = node.child_by_field_name("value")
        elif kind == "call_expression" and _called_name(node) in CONDITION_WRAPPERS:
            call = as_call(node)
            if call is not None and call.args:
                node = call.args[0]
            else:
                return node
        else:
            return node
    return None


def _called_name(node: Node) -> str | None:
    """as_call(node).name without building the argument tuple."""
    func = node.child_by_field_name("function")
    return text_of(func) if func is not None and func.type == "identifier" else None


# One-argument helpers whose name says they translate a range id into an address
# (virtio_mem_mb_id_to_phys(mb_id)): followed even for alias discovery.
_ADDRESS_HELPER_WORDS = ("to_phys", "to_virt", "to_pfn", "to_page", "_addr", "_phys")


def _names_an_address(call: Call) -> bool:
    return len(call.args) == 1 and any(w in call.name for w in _ADDRESS_HELPER_WORDS)


def buffer_key(node: Node | None, *, through_calls: bool = True) -> str | None:
    """The coarse identity of the memory an expression names (see module docstring).

    With ``through_calls`` an unknown call is looked through to its last argument
    (``virtio_mem_mb_id_to_phys(mb_id)`` -> ``mb_id``, ``dma_direct_to_page(dev, addr)``
    -> ``addr``); without it only the transparent
    converters are, which is what alias discovery needs (``page = alloc_pages(gfp, 0)``
    must not make ``page`` an alias of ``gfp``).
    """
    node = strip(node)
    while node is not None:
        kind = node.type
        if kind == "identifier":
            return text_of(node)
        if kind == "field_expression":
            return text_of(node.child_by_field_name("field"))
        if kind in ("pointer_expression", "subscript_expression"):
            node = strip(node.child_by_field_name("argument"))
        elif kind == "binary_expression":
            node = strip(node.child_by_field_name("left"))
        elif kind == "call_expression":
            name = _called_name(node)
            if name is None or (
                not through_calls
                and name not in TRANSPARENT_CALLS
                and not any(w in name for w in _ADDRESS_HELPER_WORDS)
            ):
                return None  # not followed whatever its arguments: skip building the Call
            call = as_call(node)
            if call is None or not call.args:
                return None
            if call.name in TRANSPARENT_CALLS or _names_an_address(call):
                node = strip(call.args[0])
            elif through_calls:
                # helpers take the context first and the memory last:
                # dma_direct_to_page(dev, dma_addr), virtio_mem_phys_to_sb_id(vm, addr)
                node = strip(call.args[-1])
            else:
                return None
        else:
            return None
    return None


def assigned_name(node: Node | None) -> str | None:
    """Left-hand variable of ``x = ...`` / ``T x = ...`` (None for anything else)."""
    if node is None:
        return None
    if node.type == "assignment_expression":
        left = node.child_by_field_name("left")
        return text_of(left) if left is not None and left.type == "identifier" else None
    if node.type == "init_declarator":
        decl = node.child_by_field_name("declarator")
        while decl is not None and decl.type == "pointer_declarator":
            decl = decl.child_by_field_name("declarator")
        return text_of(decl) if decl is not None and decl.type == "identifier" else None
    return None


def assignment_value(node: Node) -> Node | None:
    if node.type == "assignment_expression":
        return node.child_by_field_name("right")
    if node.type == "init_declarator":
        return node.child_by_field_name("value")
    return None


def result_variable(call: Call) -> str | None:
    """``rc`` when the call's value is stored: ``rc = f()``, ``int rc = f()``."""
    parent = call.node.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    if parent is None:
        return None
    value = assignment_value(parent)
    if value is not None and strip(value) == call.node:
        return assigned_name(parent)
    return None


def _contains_call(node: Node | None, call: Call) -> bool:
    start, end = call.span
    return node is not None and node.start_byte <= start and end <= node.end_byte


def _is_zero(node: Node | None) -> bool:
    node = strip(node)
    return node is not None and text_of(node) in ("0", "0L", "0UL", "NULL", "false")


def _is_subject(node: Node | None, call: Call, var: str | None) -> bool:
    """Does ``node`` stand for the tracked call's return value?"""
    node = strip(node)
    if node is None:
        return False
    if node == call.node or (
        node.type == "call_expression" and (node.start_byte, node.end_byte) == call.span
    ):
        return True
    if var is not None and node.type == "identifier" and text_of(node) == var:
        return True
    if node.type == "assignment_expression":
        return _is_subject(node.child_by_field_name("right"), call, var)
    return False


def implied_status(cond: Node | None, taken: bool, call: Call, var: str | None) -> str | None:
    """What a branch says about a fallible call returning 0 on success.

    ``cond`` is the branch condition, ``taken`` whether the edge is its true side.
    Returns "failed" (the call returned non-zero), "ok" (it returned 0) or None.
    Understands ``if (rc)``, ``if (!rc)``, ``if (rc < 0)``, ``if (rc != 0)``,
    ``if (rc == 0)``, ``if (f(...))``, ``if ((rc = f(...)))``, likely()/unlikely()/
    WARN_ON() wrappers, and ``a && b`` (true side) / ``a || b`` (false side); the false
    side of ``a && f()`` and the true side of ``a || f()`` speak for f() when it ran.
    ``rc < 0`` false says nothing: only zero is success (positive failures on arm64).
    """
    node = strip(cond)
    if node is None:
        return None
    if _is_subject(node, call, var):
        return "failed" if taken else "ok"
    if node.type == "unary_expression" and text_of(node.child_by_field_name("operator")) == "!":
        return implied_status(node.child_by_field_name("argument"), not taken, call, var)
    if node.type == "binary_expression":
        op = text_of(node.child_by_field_name("operator"))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op in ("&&", "||"):
            if (op == "&&") == taken:  # both sides hold (&& true) / both fail (|| false)
                return implied_status(left, taken, call, var) or implied_status(
                    right, taken, call, var
                )
            if _contains_call(right, call) and not _contains_call(left, call):
                # ``a && f()`` false / ``a || f()`` true: either f() did not run (then no
                # conversion happened on this path) or its own test came out this way
                return implied_status(right, taken, call, var)
            return None
        if _is_zero(right) and _is_subject(left, call, var):
            subject_nonzero = {"!=": taken, "<": taken, "==": not taken}.get(op)
        elif _is_zero(left) and _is_subject(right, call, var):
            subject_nonzero = {"!=": taken, ">": taken, "==": not taken}.get(op)
        else:
            return None
        if subject_nonzero is None:
            return None
        if op in ("<", ">") and not taken:
            # rc >= 0 is not success: nonzero is failure, and arm64 CCA's conversions can
            # fail with a positive value (issue 18), so the path stays unchecked
            return None
        return "failed" if subject_nonzero else "ok"
    return None


def identifiers_in(node: Node | None) -> set[str]:
    out: set[str] = set()
    if node is None:
        return out
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type in ("identifier", "field_identifier"):
            out.add(text_of(cur))
        stack.extend(cur.children)
    return out
