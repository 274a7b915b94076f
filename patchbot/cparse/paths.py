"""Path queries: follow a conversion's outcome through a function's CFG.

``follow_conversion(func, conv)`` walks every path from a conversion call and reports
each later catalogued call on the same memory (``PathHit``) together with what the path
knows about the conversion that currently governs that memory:

* ``status`` "failed" — a branch taken only when the call returned non-zero;
* ``status`` "ok" — a branch taken only when it returned 0;
* ``status`` "unchecked" — no branch on its result lies on the path.

A later conversion of the same memory on the path (the re-encrypt in an error path)
becomes the governing one, with its own status: this is what separates the accepted
"re-encrypt, free only if that worked" from "re-encrypt, free anyway".  A free of the
memory ends the path.  Branches contradicting what the path already knows are pruned,
so ``if (rc) goto err; ... err: if (rc) free()`` is not a false path.

What the path says about objects and flags (``objects``): a path ends where the converted
lvalue is set to NULL (the later free is a no-op) or its root variable is pointed at
another object (the next loop iteration's per-CPU struct); constant flags assigned on the
path (``leak = true``) prune the branches that contradict them (``if (!leak) free()``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from patchbot.api import Location
from patchbot.cparse.cfg import EXIT, Edge
from patchbot.cparse.exprs import Call, implied_status, text_of
from patchbot.cparse.functions import Function, MemEvent
from patchbot.cparse.limits import MAX_TRACE_LINKS, WalkBudget
from patchbot.cparse.objects import (
    Flags,
    clears_memory,
    failure_flags,
    flag_assignments,
    flag_truth,
    memory_lvalue,
    rebinds_object,
    update_flags,
)


class _State(NamedTuple):
    """One walk state.  A NamedTuple, not a frozen dataclass: every edge of every walk
    builds one and hashes it, and a tuple does both in C."""

    node: int
    current: MemEvent  # the conversion that governs the memory on this path
    status: str  # failed / ok / unchecked
    var: str | None  # variable still holding current's result
    origin: str = "unchecked"  # the start conversion's outcome (kept after a re-conversion)
    flags: Flags = frozenset()  # lvalues given a constant truth value on this path


@dataclass(frozen=True)
class PathStep:
    line: int
    note: str


@dataclass(frozen=True)
class PathHit:
    start: MemEvent  # the conversion the walk began at
    event: MemEvent  # the catalogued call reached (free, handback, mapping, conversion...)
    current: MemEvent  # the conversion governing the memory when event runs
    status: str  # current's outcome on this path: failed / ok / unchecked
    steps: tuple[PathStep, ...]  # conversion, branches, gotos, event: for Finding.trace
    start_status: str = "unchecked"  # start's own outcome on this path
    # when current is a re-conversion on an error path: the call whose failure the path
    # took to get there (``rc = send(...); if (rc) { set_memory_encrypted(...); ...``)
    failed_call: str | None = None

    def trace(self, path: str, function: str | None = None) -> list[Location]:
        return [Location(path, s.line, function=function, note=s.note) for s in self.steps]


# How a state was reached: "" (same node, another governing conversion), or the CFG edge
# taken (source node, edge, what the branch implied), turned into a note only for the
# paths a hit reports.
_Note = str | tuple[int, Edge, str | None]


def _kills(func: Function, node: int, var: str | None, current: MemEvent) -> bool:
    """Does this node overwrite ``var`` (so later tests of it say nothing)?"""
    if var is None:
        return False
    call = current.call.node
    call_start = call_end = -1
    for name, start, end in func.assignments_at(node):
        if name != var:
            continue
        if call_start < 0:
            call_start, call_end = call.start_byte, call.end_byte
        if not (call_start >= start and call_end <= end):
            return True
    return False


def _case_status(
    func: Function, src: int, edge: Edge, current: MemEvent, var: str | None
) -> str | None:
    """``switch (rc) { case 0: ...; default: ... }``: what a case edge says about rc."""
    if implied_status(edge.cond, True, current.call, var) != "failed":
        return None  # the switch is not on the call's result
    zero_labels = ("case 0", "case 0UL", "case 0L")
    if edge.kind == "case":
        return "ok" if edge.label in zero_labels else "failed"
    siblings = {e.label for e in func.cfg.nodes[src].succ if e.kind == "case"}
    return "failed" if siblings & set(zero_labels) else None


def _edge_note(func: Function, src: int, edge: Edge, conv: MemEvent, status: str | None) -> str:
    node = func.cfg.nodes[src]
    if edge.kind in ("true", "false") and node.text:
        cond = text_of(edge.cond) if edge.cond is not None else node.text
        outcome = (
            f" ({conv.name}() {'failed' if status == 'failed' else 'succeeded'})" if status else ""
        )
        return f"branch '{node.label} {cond}' is {edge.kind}{outcome}"
    if edge.kind == "goto":
        return f"goto {edge.label}"
    if edge.kind in ("case", "default"):
        return edge.label
    return ""


def follow_conversion(
    func: Function, start: MemEvent, *, max_states: int = 20000, budget: WalkBudget | None = None
) -> Iterator[PathHit]:
    """Every catalogued call on ``start``'s memory reachable from it (see module doc).

    At most ``max_states`` walk states; with a ``budget`` (limits.py), the states and
    hits are also taken from what the file's walks may still spend, and the walk stops
    (``budget.exhausted``) when that runs out."""
    if budget is not None:
        max_states = min(max_states, budget.states)
    same = [e for e in func.events if e.key is not None and e.key == start.key]
    by_node: dict[int, list[MemEvent]] = {}
    for event in same:
        by_node.setdefault(event.node, []).append(event)

    first = _State(start.node, start, "unchecked", start.result_var)
    parent: dict[_State, tuple[_State, _Note] | None] = {first: None}
    queue = deque([first])
    reported: set[tuple[int, int, str, str]] = set()
    lvalues: dict[int, str | None] = {}  # id(conversion) -> memory_lvalue(), on first use
    while queue and len(parent) < max_states:
        state = queue.popleft()
        here = by_node.get(state.node, ())
        ended = False
        if state is not first or len(here) > 1:
            for event in here:
                if state is first and event.call.node.start_byte <= start.call.node.start_byte:
                    continue
                if event == state.current:
                    # back at the governing call (a loop): it runs again and may fail
                    # this time, whatever the last iteration did
                    again = _State(
                        state.node, event, "unchecked", event.result_var, state.origin, state.flags
                    )
                    parent.setdefault(again, (state, ""))
                    state = again
                    continue
                key = (id(event), id(state.current), state.status, state.origin)
                if key not in reported:
                    reported.add(key)
                    if budget is not None:
                        if budget.hits <= 0:
                            budget.exhausted = True
                            return
                        budget.hits -= 1
                    steps, start_status, failed = _steps(func, parent, state, event)
                    yield PathHit(
                        start, event, state.current, state.status, steps, start_status, failed
                    )
                if event.kind in ("free", "transfer"):
                    ended = True
                if event.kind == "conversion":
                    switched = _State(
                        state.node, event, "unchecked", event.result_var, state.origin, state.flags
                    )
                    parent.setdefault(switched, (state, ""))
                    state = switched
        if ended or state.node == EXIT:
            continue
        flags = state.flags
        if func.assignments_at(state.node):
            lvalue = lvalues.get(id(state.current), "")
            if lvalue == "":
                lvalue = lvalues[id(state.current)] = memory_lvalue(state.current)
            if clears_memory(func, state.node, lvalue) or rebinds_object(
                func, state.node, lvalue, state.current
            ):
                continue  # the memory is forgotten (leaked) or the name means another object
            flags = update_flags(flags, flag_assignments(func, state.node))
        var = None if _kills(func, state.node, state.var, state.current) else state.var
        for edge in func.cfg.nodes[state.node].succ:
            if flags and edge.kind in ("true", "false") and edge.cond is not None:
                truth = flag_truth(edge.cond, flags)
                if truth is not None and truth != (edge.kind == "true"):
                    continue  # contradicts a flag set earlier on this path
            status = state.status
            implied = None
            if edge.kind in ("true", "false") and edge.cond is not None:
                implied = implied_status(edge.cond, edge.kind == "true", state.current.call, var)
            elif edge.kind in ("case", "default") and edge.cond is not None:
                implied = _case_status(func, state.node, edge, state.current, var)
            edge_flags = flags
            if implied is not None:
                if status != "unchecked" and implied != status:
                    continue  # infeasible: contradicts what the path already knows
                status = implied
                if implied == "failed" and state.current.entry.failure_flags:
                    # a summarised helper leaves its out-parameter flag set on failure
                    edge_flags = update_flags(flags, failure_flags(state.current))
            origin = status if state.current is start else state.origin
            nxt = _State(edge.dst, state.current, status, var, origin, edge_flags)
            if nxt in parent:
                continue
            # the edge's note is written only if a reported path takes it (see _steps)
            parent[nxt] = (state, (state.node, edge, implied))
            queue.append(nxt)
    if budget is not None:
        budget.states -= len(parent)
        if queue and budget.states <= 0:
            budget.exhausted = True  # the file's states ran out with some left to visit


_OUTCOME = {"failed": "fails here", "ok": "succeeds here", "unchecked": "result not checked"}


def _steps(
    func: Function,
    parent: dict[_State, tuple[_State, _Note] | None],
    state: _State,
    event: MemEvent,
) -> tuple[tuple[PathStep, ...], str, str | None]:
    """The trace of a hit, the start's outcome, and the call whose failure led to the
    last re-conversion on the path (None if there is none, or it is the start)."""
    chain: list[tuple[_State, _Note]] = []  # (state, note of the edge that led to it)
    cur: _State | None = state
    while cur is not None and len(chain) < MAX_TRACE_LINKS:
        link = parent.get(cur)
        if link is None:
            break
        chain.append((link[0], link[1]))
        cur = link[0]
    chain.reverse()  # (a path longer than MAX_TRACE_LINKS edges is traced from its middle)
    states = [prev for prev, _note in chain] + [state]
    first = states[0].current
    start_status = [st.status for st in states if st.current is first][-1]
    steps = [PathStep(first.line, f"{first.name}() {_OUTCOME[start_status]}")]
    previous = first
    branch: tuple[int, int, Edge] | None = None  # (step index, chain index, edge) of the last
    failed: str | None = None  # branch that says nothing about the governing conversion

    def reconverted(current: MemEvent) -> None:
        nonlocal failed
        steps.append(PathStep(current.line, f"{current.name}() converts the same memory again"))
        failed = None
        if branch is not None:
            at, upto, edge = branch
            call = _failed_call(func, [prev.node for prev, _ in chain[: upto + 1]], edge)
            if call is not None:
                failed = call.name
                steps[at] = PathStep(steps[at].line, f"{steps[at].note} ({failed}() failed)")

    for index, (prev, lazy) in enumerate(chain):
        if prev.current is not previous:
            reconverted(prev.current)
            previous = prev.current
            branch = None
        note = lazy if isinstance(lazy, str) else _edge_note(func, *lazy[:2], prev.current, lazy[2])
        if note:
            steps.append(PathStep(func.cfg.nodes[prev.node].line, note))
            if not isinstance(lazy, str) and lazy[1].kind in ("true", "false") and lazy[2] is None:
                branch = (len(steps) - 1, index, lazy[1])
    if state.current is not previous:
        reconverted(state.current)
    steps.append(PathStep(event.line, event.note or f"{event.name}() called here"))
    return tuple(steps), start_status, failed


def _failed_call(func: Function, path: list[int], edge: Edge) -> Call | None:
    """The call whose failure taking ``edge`` (out of ``path[-1]``) means: a call in the
    condition itself, or the last call the path assigned to the variable the condition
    tests (``rc = f(...); if (rc)``).  None when the branch is no such test."""
    taken = edge.kind == "true"
    calls: dict[int, list[Call]] = {}
    for nid, call in func.calls():
        calls.setdefault(nid, []).append(call)
    for call in calls.get(path[-1], ()):
        if implied_status(edge.cond, taken, call, None) == "failed":
            return call
    assigned: set[str] = set()  # a later assignment hides the earlier ones
    for node in reversed(path[:-1]):
        for name, start, end in reversed(func.assignments_at(node)):
            if name is None or name in assigned:
                continue
            assigned.add(name)
            inside = [c for c in calls.get(node, ()) if start <= c.span[0] and c.span[1] <= end]
            if inside:
                call = min(inside, key=lambda c: c.span[0])  # the outermost: it starts first
                status = implied_status(edge.cond, taken, call, name)
                if status is not None:
                    return call if status == "failed" else None
    return None


def conversion_outcome_note(hit: PathHit) -> str:
    verb = {"failed": "fails here", "ok": "succeeds here", "unchecked": "is not checked"}
    return f"{hit.start.name}() {verb.get(hit.status, hit.status)}"
