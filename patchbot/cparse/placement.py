"""Where conversion calls sit: the syntactic view several CoCo rules share.

The rules that use it reason about where set_memory_{en,de}crypted() calls sit: which
function, which switch case, which loop, which same-file helper reaches them.  It lived
in patchbot/cocoutil.py until issue 18 folded it into the one C analysis layer; every
conversion name comes from the catalogue.  This module turns one
C file into that view with tree-sitter; it does no I/O and keeps no global state besides
the parse cache in patchbot.cparse.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Node, Query, QueryCursor

from patchbot.cparse.catalogue import load_catalogue
from patchbot.cparse.exprs import text_of
from patchbot.cparse.parse import C_LANGUAGE, declarator_name, parse_kernel

ENC = "encrypt"
DEC = "decrypt"


def _conversions(direction: str) -> frozenset[str]:
    """Conversion names of one direction, from rules/catalogue/memory_paths.toml (issue
    18: a list here missed set_pages_encrypted() and every later catalogue entry)."""
    entries = load_catalogue().of_kind("conversion").values()
    return frozenset(e.name for e in entries if e.direction == direction)


ENCRYPT_CALLS = _conversions(ENC)
DECRYPT_CALLS = _conversions(DEC)

# cc_platform_has() attributes that make a path CoCo-only (HOST_MEM_ENCRYPT covers SME
# hosts, which use the same conversion calls for kexec and the real-mode trampoline).
GUARD_ATTRS = ("CC_ATTR_GUEST_MEM_ENCRYPT", "CC_ATTR_MEM_ENCRYPT", "CC_ATTR_HOST_MEM_ENCRYPT")
GUARD_RE = re.compile(r"\bcc_platform_has\s*\(\s*(" + "|".join(GUARD_ATTRS) + r")\s*\)")

LOOP_TYPES = frozenset({"for_statement", "while_statement", "do_statement"})
MACRO_LOOP_RE = re.compile(r"(^|_)for_each(_|$)|^for_each|^list_for_each|^hlist_for_each")


_OUTLINE_QUERY = Query(C_LANGUAGE, "(function_definition) @func (call_expression) @call")

CONVERSION_TEXT_RE = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, ENCRYPT_CALLS | DECRYPT_CALLS))) + r")\b"
)


@lru_cache(maxsize=256)  # every CoCo rule asks first, about the same text
def mentions_conversion(text: str) -> bool:
    """Cheap pre-filter: only files that name a conversion call can hold a finding."""
    return bool(CONVERSION_TEXT_RE.search(text))


def has_unknown_lines(text: str, node: Node) -> bool:
    """In a file rebuilt from diff hunks, lines the diff does not show are blank: does the
    span of ``node`` contain one (so absence of a statement there proves nothing)?"""
    lines = text.split("\n")[node.start_point[0] : node.end_point[0] + 1]
    return any(not line.strip() for line in lines)


def squash(text: str) -> str:
    """Whitespace-free form, so two spellings of one expression compare equal."""
    return re.sub(r"\s+", "", text)


def strip_casts(expr: str) -> str:
    """'(unsigned long)page_address(p)' -> 'page_address(p)' (leading C casts only)."""
    expr = squash(expr)
    cast = re.compile(
        r"^\((?:const|unsigned|signed|long|int|char|void|u64|u32|uint64_t|"
        r"phys_addr_t|unsigned long|\*)+\)"
    )
    while True:
        new = cast.sub("", expr)
        if new == expr:
            return expr
        expr = new


def direction_of(name: str) -> str | None:
    if name in ENCRYPT_CALLS:
        return ENC
    if name in DECRYPT_CALLS:
        return DEC
    return None


def address_arg(call: Call) -> str:
    """The converted address of a conversion call, casts removed ('' when unknown)."""
    entry = load_catalogue().get(call.name)
    index = entry.arg if entry is not None and entry.kind == "conversion" else 0
    return strip_casts(call.args[index]) if len(call.args) > index else ""


def opposite(direction: str) -> str:
    return DEC if direction == ENC else ENC


@dataclass(frozen=True)
class Call:
    name: str
    line: int  # 1-based
    args: tuple[str, ...]
    node: Node = field(compare=False, hash=False, repr=False)
    function: str = ""


@dataclass
class Function:
    name: str
    node: Node
    start_line: int
    end_line: int
    calls: list[Call]
    params: list[str]


def _call_name(node: Node) -> str | None:
    fn = node.child_by_field_name("function")
    if fn is None:
        return None
    if fn.type == "identifier":
        return text_of(fn)
    if fn.type == "field_expression":  # x86_platform.guest.enc_status_change_prepare(...)
        fld = fn.child_by_field_name("field")
        return text_of(fld) if fld is not None else None
    return None


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        stack.extend(reversed(cur.children))


def _params(definition: Node) -> list[str]:
    names: list[str] = []
    for node in _walk(definition.child_by_field_name("declarator") or definition):
        if node.type == "parameter_declaration":
            name = declarator_name(node.child_by_field_name("declarator"))
            if name:
                names.append(name)
    return names


class CFile:
    """One C file as the conversion rules see it."""

    def __init__(self, text: str) -> None:
        self.text = text
        # same-length normalisation: for_each macros become while loops, __init vanishes
        self.tree = parse_kernel(text)
        self.functions: dict[str, Function] = {}
        # two C-level queries instead of a Python walk of every node: the walk cost more
        # than the parse itself on large series
        cursor = QueryCursor(_OUTLINE_QUERY).captures(self.tree.root_node)
        definitions = sorted(cursor.get("func", []), key=lambda n: n.start_byte)
        call_nodes = sorted(cursor.get("call", []), key=lambda n: (n.start_byte, -n.end_byte))
        starts = [n.start_byte for n in call_nodes]
        for node in definitions:
            name = declarator_name(node.child_by_field_name("declarator"))
            if not name or node.child_by_field_name("body") is None:
                continue
            calls = []
            for index in range(bisect_left(starts, node.start_byte), len(call_nodes)):
                n = call_nodes[index]
                if n.start_byte >= node.end_byte:
                    break
                cname = _call_name(n)
                if cname and n.end_byte <= node.end_byte:
                    calls.append(Call(cname, n.start_point[0] + 1, _args(n), n, name))
            self.functions[name] = Function(
                name, node, node.start_point[0] + 1, node.end_point[0] + 1, calls, _params(node)
            )
        self._reach: dict[str, frozenset[str]] = {}

    # -- call graph ---------------------------------------------------------------------

    def calls_of(self, callee: str) -> list[Call]:
        """Every call of ``callee`` in the file, in any function."""
        return [c for f in self.functions.values() for c in f.calls if c.name == callee]

    def referenced_as_value(self, name: str) -> bool:
        """True when ``name`` appears other than as a call (an ops table, a callback)."""
        pattern = re.compile(r"\b" + re.escape(name) + r"\b(?!\s*\()")
        return bool(pattern.search(self.text))

    def directions(self, func: str) -> frozenset[str]:
        """Conversion directions a function performs, itself or through same-file helpers."""
        if func in self._reach:
            return self._reach[func]
        self._reach[func] = frozenset()  # cycle guard
        found: set[str] = set()
        for call in self.functions[func].calls:
            found |= self.call_directions(call)
        self._reach[func] = frozenset(found)
        return self._reach[func]

    def call_directions(self, call: Call) -> frozenset[str]:
        direct = direction_of(call.name)
        if direct:
            return frozenset({direct})
        if call.name in self.functions and call.name != call.function:
            return self.directions(call.name)
        return frozenset()

    def conversion_calls(self, func: Function) -> list[tuple[Call, frozenset[str]]]:
        """Calls in ``func`` that convert memory, directly or through a same-file helper."""
        out = []
        for call in func.calls:
            dirs = self.call_directions(call)
            if dirs:
                out.append((call, dirs))
        return out

    def function_at(self, line: int) -> Function | None:
        for func in self.functions.values():
            if func.start_line <= line <= func.end_line:
                return func
        return None


def _args(call: Node) -> tuple[str, ...]:
    arglist = call.child_by_field_name("arguments")
    if arglist is None:
        return ()
    return tuple(text_of(a) for a in arglist.named_children if a.type != "comment")


@lru_cache(maxsize=64)
def cfile(text: str) -> CFile:
    """Cached: several rules look at the same file."""
    return CFile(text)


# -- positions inside a function ---------------------------------------------------------


def ancestors(node: Node) -> Iterator[Node]:
    cur = node.parent
    while cur is not None:
        yield cur
        cur = cur.parent


def case_labels(node: Node) -> list[str]:
    """Labels of the switch cases enclosing ``node`` (innermost first).

    Fallthrough is honoured: ``case A: case B: stmt`` puts stmt under both A and B.
    """
    labels: list[str] = []
    for anc in ancestors(node):
        if anc.type != "case_statement":
            continue
        labels.extend(case_statement_labels(anc))
    return labels


def case_statement_labels(case: Node) -> list[str]:
    """The label of one case_statement plus any empty cases falling through into it."""
    labels = []
    value = case.child_by_field_name("value")
    labels.append(text_of(value) if value is not None else "default")
    prev = case.prev_named_sibling
    while prev is not None and prev.type == "case_statement" and _is_empty_case(prev):
        pv = prev.child_by_field_name("value")
        labels.append(text_of(pv) if pv is not None else "default")
        prev = prev.prev_named_sibling
    return labels


def _is_empty_case(case: Node) -> bool:
    value = case.child_by_field_name("value")
    body = [c for c in case.named_children if c != value and c.type != "comment"]
    return not body


def cases_of_switch(switch: Node) -> dict[str, list[Node]]:
    """label -> case_statement nodes whose statements run for that label (with fallthrough
    into non-empty cases ignored: kernel notifiers break at the end of each case)."""
    body = switch.child_by_field_name("body")
    out: dict[str, list[Node]] = {}
    if body is None:
        return out
    for case in body.named_children:
        if case.type != "case_statement" or _is_empty_case(case):
            continue
        for label in case_statement_labels(case):
            out.setdefault(label, []).append(case)
    return out


def switches(node: Node) -> Iterator[Node]:
    return (n for n in _walk(node) if n.type == "switch_statement")


def calls_inside(func: Function, node: Node) -> list[Call]:
    start, end = node.start_byte, node.end_byte
    return [c for c in func.calls if start <= c.node.start_byte and c.node.end_byte <= end]


def enclosing_loops(node: Node, stop: Node) -> list[Node]:
    """Loops around ``node`` inside ``stop``: real C loops and for_each-style macro loops
    (tree-sitter sees those as a call statement followed by a compound statement)."""
    loops: list[Node] = []
    for anc in ancestors(node):
        if anc == stop:
            break
        is_macro_loop = anc.type == "compound_statement" and macro_loop_header(anc) is not None
        if anc.type in LOOP_TYPES or is_macro_loop:
            loops.append(anc)
    return loops


def macro_loop_header(block: Node) -> Node | None:
    """For a compound statement that is the body of a for_each macro, the macro call."""
    prev = block.prev_sibling
    if prev is None or prev.type != "expression_statement":
        return None
    call = prev.named_children[0] if prev.named_children else None
    if call is None or call.type != "call_expression":
        return None
    name = _call_name(call) or ""
    if MACRO_LOOP_RE.search(name) and not text_of(prev).rstrip().endswith(";"):
        return call
    return None


def loop_header_text(loop: Node) -> str:
    """What a loop iterates over: the for(...) header, while condition, or macro call."""
    if loop.type == "compound_statement":
        return squash(text_of(macro_loop_header(loop)))
    if loop.type == "for_statement":
        parts = [loop.child_by_field_name(f) for f in ("initializer", "condition", "update")]
        return squash(";".join(text_of(p) for p in parts))
    return squash(text_of(loop.child_by_field_name("condition")))


def loop_body(loop: Node) -> Node:
    if loop.type == "compound_statement":
        return loop
    return loop.child_by_field_name("body") or loop


def is_guard_condition(cond: str) -> bool:
    return bool(GUARD_RE.search(cond))


def guarded_in_function(func: Function, node: Node) -> bool:
    """Is ``node`` only reached when a cc_platform_has(CC_ATTR_*MEM_ENCRYPT) check passed?

    Two shapes count: the node sits in the then-branch of ``if (... cc_platform_has(X)
    ...)`` (not negated), or an earlier ``if (!cc_platform_has(X)) return/goto`` exits
    the function before it.
    """
    for anc in ancestors(node):
        if anc == func.node:
            break
        if anc.type == "binary_expression" and _short_circuit_guard(anc, node):
            return True
        if anc.type != "if_statement":
            continue
        cond = text_of(anc.child_by_field_name("condition"))
        branch = then_or_else(node, anc)
        if branch == "then" and is_guard_condition(cond) and not _negated_guard(cond):
            return True
        if branch == "else" and _negated_guard(cond):
            return True
    for n in _walk(func.node):
        if n.type != "if_statement" or n.end_byte > node.start_byte:
            continue
        cond = text_of(n.child_by_field_name("condition"))
        if not _negated_guard(cond):
            continue
        exit_branch = text_of(n.child_by_field_name("consequence"))
        if re.search(r"\b(return|goto)\b", exit_branch):
            return True
    return False


def _short_circuit_guard(expr: Node, node: Node) -> bool:
    """``cc_platform_has(X) && f()`` or ``!cc_platform_has(X) || f()`` with node in f()."""
    left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
    operator = expr.child_by_field_name("operator")
    if left is None or right is None or operator is None:
        return False
    if not (right.start_byte <= node.start_byte and node.end_byte <= right.end_byte):
        return False
    left_text = text_of(left)
    if not is_guard_condition(left_text):
        return False
    negated = _negated_guard(left_text)
    return (text_of(operator) == "&&" and not negated) or (text_of(operator) == "||" and negated)


def _negated_guard(cond: str) -> bool:
    return bool(re.search(r"!\s*" + GUARD_RE.pattern, cond))


def then_or_else(node: Node, if_node: Node) -> str | None:
    """'then' or 'else' depending on which branch of ``if_node`` holds ``node``.

    Positions, not the consequence field, decide: a comment between the condition and an
    unbraced statement can take the consequence slot in tree-sitter's tree.
    """
    cond = if_node.child_by_field_name("condition")
    alternative = if_node.child_by_field_name("alternative")
    if not (if_node.start_byte <= node.start_byte < if_node.end_byte):
        return None
    if cond is not None and node.start_byte < cond.end_byte:
        return None
    if alternative is not None and node.start_byte >= alternative.start_byte:
        return "else"
    return "then"


def exclusive_branches(a: Node, b: Node) -> bool:
    """True when ``a`` and ``b`` sit in different arms of one if/else or switch."""
    a_anc = [a, *ancestors(a)]
    lca = next((anc for anc in [b, *ancestors(b)] if anc in a_anc), None)
    if lca is None:
        return False
    if lca.type == "if_statement":
        ba, bb = then_or_else(a, lca), then_or_else(b, lca)
        return bool(ba and bb and ba != bb)
    if (
        lca.type == "compound_statement"
        and lca.parent is not None
        and (lca.parent.type == "switch_statement")
    ):
        case_a = next((x for x in a_anc if x.parent == lca), None)
        case_b = next((x for x in [b, *ancestors(b)] if x.parent == lca), None)
        return case_a is not None and case_b is not None and case_a != case_b
    return False
