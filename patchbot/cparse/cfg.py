"""Control-flow graphs of C function bodies (one node per statement or condition).

Built from the tree-sitter tree of the *normalised* text (normalize.py), so kernel loop
macros arrive as ``while`` loops and ``scoped_guard()`` as an always-taken block.
Handles if/else, switch/case with fallthrough and default, while/do/for loops,
break/continue, goto/labels, return, and partial bodies (an ERROR node is one opaque
statement; a missing closing brace just ends the graph early; a goto to a label the text
does not show leads to the exit node).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from patchbot.cparse.exprs import line_of, strip, text_of

ENTRY, EXIT = 0, 1


@dataclass(frozen=True)
class Edge:
    dst: int
    kind: str  # flow, true, false, case, default, goto, break, continue, back
    cond: Node | None = None  # the condition for true/false edges
    label: str = ""  # e.g. "case MEM_OFFLINE" or the goto label


@dataclass
class CfgNode:
    id: int
    kind: str  # entry, exit, stmt, cond, return, goto, label, break, continue, case
    line: int
    ast: Node | None = None  # the statement, or the condition expression for cond nodes
    label: str = ""  # label name, goto target, loop macro name
    succ: list[Edge] = field(default_factory=list)
    pred: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return text_of(self.ast).split("\n", 1)[0].strip() if self.ast is not None else ""


_Pending = list[tuple[int, str, Node | None, str]]  # (src, kind, cond, label)

# How deep the builder descends into nested statements before it treats the rest of a
# nest as one opaque statement (``Cfg.truncated``).  Each level of ``if (x) {`` costs
# three steps and seven Python frames: 192 steps (64 levels, ~450 frames) stay well
# inside the default recursion limit of 1000 where 200 levels raised RecursionError.
# Kernel functions nest a handful of levels (checkpatch warns from 6).
MAX_NESTING_STEPS = 192
_new_object = object.__new__
_set_attribute = object.__setattr__


class Cfg:
    """The graph of one function; ``nodes[ENTRY]`` and ``nodes[EXIT]`` always exist."""

    def __init__(
        self,
        name: str,
        body: Node | None,
        *,
        loop_macros: dict[int, str] | None = None,
        scoped_guards: frozenset[int] = frozenset(),
    ) -> None:
        self.name = name
        self.nodes: list[CfgNode] = [
            CfgNode(ENTRY, "entry", line_of(body) if body else 0),
            CfgNode(EXIT, "exit", body.end_point[0] + 1 if body else 0),
        ]
        self._loop_macros = loop_macros or {}
        self._scoped = scoped_guards
        self._labels: dict[str, int] = {}
        self._gotos: list[int] = []
        self._breaks: list[list[int]] = []
        self._continues: list[list[int]] = []
        self._depth = 0
        self.truncated = False  # some statement nested past MAX_NESTING_STEPS: opaque
        if body is not None:
            out = self._visit(body, [(ENTRY, "flow", None, "")])
            self._connect(out, EXIT)
        for src in self._gotos:
            target = self._labels.get(self.nodes[src].label, EXIT)
            self._add_edge(src, Edge(target, "goto", None, self.nodes[src].label))

    # -- building -------------------------------------------------------------------
    def _new(self, kind: str, ast: Node | None, label: str = "", line: int = 0) -> int:
        line = line or (ast.start_point[0] + 1 if ast is not None else 0)
        nid = len(self.nodes)
        # CfgNode(nid, kind, line, ast, label) without the dataclass __init__ and its
        # default factories: every statement of every analysed function makes one
        node = _new_object(CfgNode)
        node.__dict__ = {
            "id": nid,
            "kind": kind,
            "line": line,
            "ast": ast,
            "label": label,
            "succ": [],
            "pred": [],
        }
        self.nodes.append(node)
        return nid

    def _add_edge(self, src: int, edge: Edge) -> None:
        self.nodes[src].succ.append(edge)
        self.nodes[edge.dst].pred.append(src)

    def _connect(self, pending: _Pending, dst: int) -> None:
        nodes = self.nodes
        preds = nodes[dst].pred
        for src, kind, cond, label in pending:
            # Edge(dst, kind, cond, label) without the frozen dataclass's guarded
            # __init__: every statement makes one or more, in every analysed function
            edge = _new_object(Edge)
            _set_attribute(
                edge, "__dict__", {"dst": dst, "kind": kind, "cond": cond, "label": label}
            )
            nodes[src].succ.append(edge)
            preds.append(src)

    def _visit(self, stmt: Node, pending: _Pending) -> _Pending:
        if self._depth >= MAX_NESTING_STEPS:
            self.truncated = True
            return self._simple(stmt, pending)
        self._depth += 1
        try:
            return self._visit_kind(stmt, stmt.type, pending)
        finally:
            self._depth -= 1

    def _visit_kind(self, stmt: Node, kind: str, pending: _Pending) -> _Pending:
        """_visit() with the statement's type already read (each read builds a str)."""
        handler = _HANDLERS.get(kind)
        if handler is not None:
            result: _Pending = handler(self, stmt, pending)
            return result
        if kind in ("comment", "{", "}", ";") or kind.startswith("preproc_"):
            if kind in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif"):
                return self._visit_children(stmt, pending)  # code under #ifdef still runs
            return pending
        # a plain statement, the most common case: _new() and _connect() inlined
        nodes = self.nodes
        nid = len(nodes)
        preds: list[int] = []
        node = _new_object(CfgNode)
        node.__dict__ = {
            "id": nid,
            "kind": "stmt",
            "line": stmt.start_point[0] + 1,
            "ast": stmt,
            "label": "",
            "succ": [],
            "pred": preds,
        }
        nodes.append(node)
        for src, edge_kind, cond, label in pending:
            edge = _new_object(Edge)
            _set_attribute(
                edge, "__dict__", {"dst": nid, "kind": edge_kind, "cond": cond, "label": label}
            )
            nodes[src].succ.append(edge)
            preds.append(src)
        return [(nid, "flow", None, "")]

    def _simple(self, stmt: Node, pending: _Pending, kind: str = "stmt") -> _Pending:
        nid = self._new(kind, stmt)
        self._connect(pending, nid)
        return [(nid, "flow", None, "")]

    def _visit_children(self, node: Node, pending: _Pending) -> _Pending:
        if self._depth >= MAX_NESTING_STEPS:
            self.truncated = True
            return self._simple(node, pending)
        self._depth += 1
        try:
            return self._visit_children_within(node, pending)
        finally:
            self._depth -= 1

    def _visit_children_within(self, node: Node, pending: _Pending) -> _Pending:
        preproc = node.type.startswith("preproc")
        for child in node.named_children:
            kind = child.type
            if preproc and kind in ("identifier", "preproc_arg"):
                continue  # the #ifdef condition itself
            pending = self._visit_kind(child, kind, pending)
        return pending

    def _visit_compound_statement(self, node: Node, pending: _Pending) -> _Pending:
        return self._visit_children(node, pending)

    def _visit_ERROR(self, node: Node, pending: _Pending) -> _Pending:
        # A damaged region: keep the statements tree-sitter still recognised inside it.
        inner = [c for c in node.named_children if c.type.endswith("statement")]
        if inner:
            return self._visit_children(node, pending)
        return self._simple(node, pending)

    def _visit_if_statement(self, node: Node, pending: _Pending) -> _Pending:
        cond = node.child_by_field_name("condition")
        then = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        if node.start_byte in self._scoped:  # scoped_guard(lock, &l) { ... }: always runs
            nid = self._new("stmt", cond, "scoped_guard")
            self._connect(pending, nid)
            return (
                self._visit(then, [(nid, "flow", None, "")]) if then else [(nid, "flow", None, "")]
            )
        cid = self._new("cond", cond, "if")
        self._connect(pending, cid)
        out = self._visit(then, [(cid, "true", cond, "")]) if then else [(cid, "true", cond, "")]
        if alt is not None:
            body = (
                alt.named_children[-1] if alt.type == "else_clause" and alt.named_children else alt
            )
            out += self._visit(body, [(cid, "false", cond, "")])
        else:
            out.append((cid, "false", cond, ""))
        return out

    def _loop(self, head: int, body: Node | None, entry: _Pending) -> tuple[_Pending, list[int]]:
        """Visit a loop body; returns (edges leaving the body normally, break sources)."""
        self._breaks.append([])
        self._continues.append([])
        out = self._visit(body, entry) if body is not None else entry
        breaks = self._breaks.pop()
        for src in self._continues.pop():
            self._add_edge(src, Edge(head, "continue"))
        return out, breaks

    def _visit_while_statement(self, node: Node, pending: _Pending) -> _Pending:
        cond = node.child_by_field_name("condition")
        macro = self._loop_macros.get(node.start_byte, "")
        cid = self._new("cond", cond, macro or "while")
        self.nodes[cid].line = line_of(node)
        self._connect(pending, cid)
        out, breaks = self._loop(cid, node.child_by_field_name("body"), [(cid, "true", cond, "")])
        self._connect([(s, "back", None, "") for s, _k, _c, _l in out], cid)
        return [(cid, "false", cond, "")] + [(b, "break", None, "") for b in breaks]

    def _visit_for_statement(self, node: Node, pending: _Pending) -> _Pending:
        init = node.child_by_field_name("initializer")
        if init is not None:
            pending = self._simple(init, pending)
        cond = node.child_by_field_name("condition")
        cid = self._new("cond", cond, "for")
        self.nodes[cid].line = line_of(node)
        self._connect(pending, cid)
        out, breaks = self._loop(cid, node.child_by_field_name("body"), [(cid, "true", cond, "")])
        update = node.child_by_field_name("update")
        if update is not None:
            out = self._simple(update, out)
        self._connect([(s, "back", None, "") for s, _k, _c, _l in out], cid)
        exits: _Pending = [(b, "break", None, "") for b in breaks]
        if cond is not None:
            exits.insert(0, (cid, "false", cond, ""))
        return exits

    def _visit_do_statement(self, node: Node, pending: _Pending) -> _Pending:
        head = self._new(
            "stmt", None, "do", line_of(node)
        )  # ast None: the body's calls are its own
        self._connect(pending, head)
        cond = node.child_by_field_name("condition")
        # continue in a do-while jumps to the condition; model it as the loop head
        out, breaks = self._loop(head, node.child_by_field_name("body"), [(head, "flow", None, "")])
        cid = self._new("cond", cond, "do-while")
        self._connect(out, cid)
        inner = strip(cond)
        if inner is None or text_of(inner) not in ("0", "false"):  # do { } while (0) runs once
            self._add_edge(cid, Edge(head, "true", cond))
        return [(cid, "false", cond, "")] + [(b, "break", None, "") for b in breaks]

    def _visit_switch_statement(self, node: Node, pending: _Pending) -> _Pending:
        cond = node.child_by_field_name("condition")
        sid = self._new("cond", cond, "switch")
        self._connect(pending, sid)
        self._breaks.append([])
        body = node.child_by_field_name("body")
        fall: _Pending = []
        has_default = False
        for child in body.named_children if body is not None else []:
            if child.type != "case_statement":
                fall = self._visit(child, fall)
                continue
            value = child.child_by_field_name("value")
            has_default |= value is None
            label = f"case {text_of(value)}" if value is not None else "default"
            cid = self._new(
                "case", value, label, line_of(child)
            )  # the label expression, not the body
            self._add_edge(sid, Edge(cid, "case" if value is not None else "default", cond, label))
            self._connect(fall, cid)
            fall = [(cid, "flow", None, "")]
            for stmt in child.named_children:
                if stmt != value:
                    fall = self._visit(stmt, fall)
        breaks = self._breaks.pop()
        out = fall + [(b, "break", None, "") for b in breaks]
        if not has_default:
            out.append((sid, "default", cond, "no case matches"))
        return out

    def _visit_break_statement(self, node: Node, pending: _Pending) -> _Pending:
        nid = self._new("break", node)
        self._connect(pending, nid)
        if self._breaks:
            self._breaks[-1].append(nid)
        return []

    def _visit_continue_statement(self, node: Node, pending: _Pending) -> _Pending:
        nid = self._new("continue", node)
        self._connect(pending, nid)
        if self._continues:
            self._continues[-1].append(nid)
        return []

    def _visit_return_statement(self, node: Node, pending: _Pending) -> _Pending:
        nid = self._new("return", node)
        self._connect(pending, nid)
        self._add_edge(nid, Edge(EXIT, "flow"))
        return []

    def _visit_goto_statement(self, node: Node, pending: _Pending) -> _Pending:
        target = node.child_by_field_name("label")
        nid = self._new("goto", node, text_of(target))
        self._connect(pending, nid)
        self._gotos.append(nid)
        return []

    def _visit_labeled_statement(self, node: Node, pending: _Pending) -> _Pending:
        name = text_of(node.child_by_field_name("label"))
        nid = self._new("label", node, name)
        self.nodes[nid].ast = None  # the label's statement gets its own node
        self.nodes[nid].line = line_of(node)
        self._labels[name] = nid
        self._connect(pending, nid)
        out: _Pending = [(nid, "flow", None, "")]
        for child in node.named_children:
            if child.type != "statement_identifier":
                out = self._visit(child, out)
        return out

    # -- queries --------------------------------------------------------------------
    def reachable_from(self, start: int) -> set[int]:
        seen = {start}
        stack = [start]
        while stack:
            for edge in self.nodes[stack.pop()].succ:
                if edge.dst not in seen:
                    seen.add(edge.dst)
                    stack.append(edge.dst)
        return seen

    def node_at_line(self, line: int) -> list[CfgNode]:
        return [n for n in self.nodes if n.line == line and n.kind not in ("entry", "exit")]


# statement type -> Cfg._visit_<type>, looked up once instead of a getattr per statement
_HANDLERS = {
    name[len("_visit_") :]: handler
    for name, handler in vars(Cfg).items()
    if name.startswith("_visit_") and callable(handler)
}
