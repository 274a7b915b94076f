"""Helper summaries that need a function's events: failing helpers and global releases.

Two facts about a function of a file are derived after its catalogued calls are known,
and make its callers in the same file see more (issue 18):

* ``fail_summary``: the function converts a parameter's memory and, on some path where
  that conversion failed, returns a value that is not a constant zero.  Its callers must
  treat nonzero as "the memory is in an unknown state": the call is a conversion of that
  argument for them (``__vmbus_establish_gpadl()`` for ``__vmbus_open()``, a static
  helper the wrapper summaries miss because it does more than return the result).  The
  tree database (``treedb``) exports the same summaries of non-static functions to other
  files.  ``param->field = true`` left set on every such return is an out-parameter flag
  its callers' branches are decided by.
* ``release_summary``: the function frees file-scope memory (``free_page(
  (unsigned long)conn.pages[0])``, the root neither a parameter nor a local) with no
  successful re-encryption of it first.  For a caller whose conversion of that memory
  failed, calling it is a free (``vmbus_connect()`` -> ``vmbus_disconnect()`` before
  03f5a999adba).  A function that frees only when ``set_memory_encrypted()`` returned 0,
  or a caller that cleared the pointer first, is not reported.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from patchbot.cparse.catalogue import ApiEntry
from patchbot.cparse.exprs import identifiers_in, implied_status, strip, text_of
from patchbot.cparse.objects import Flags, flag_assignments, memory_lvalue, update_flags

if TYPE_CHECKING:
    from tree_sitter import Node

    from patchbot.cparse.functions import Function, MemEvent

_MAX_WALK = 4000  # walk states per conversion; helpers are short
_ZERO = ("0", "NULL", "false")


def _param_of(func: Function, event: MemEvent) -> int | None:
    ids: set[str] = set()
    if event.entry.wrapper_of is None:
        # a catalogued conversion of memory a parameter describes (``gpadl->buffer``) is
        # one of that parameter: the caller holds the handle.  Not through a helper: one
        # converting ``chan->ring`` is no conversion of ``chan`` (vmbus_open() would
        # otherwise convert its channel, and a caller's kfree(chan) look like a leak)
        ids = identifiers_in(event.call.arg(event.entry.arg))
    for i, name in enumerate(func.params):
        if name and (name == event.key or func.resolve(name) == event.key or name in ids):
            return i
    return None


@dataclass(frozen=True)
class _Failure:
    returns_nonzero: bool  # a path on which the conversion failed returns non-zero
    flags: tuple[tuple[int, str], ...]  # (parameter, field) true on every such return


def _on_failure(func: Function, conv: MemEvent) -> _Failure:
    """Walk from the entry: at each ``return`` reached after ``conv`` failed, what is
    returned and which ``param->field`` flags the path set to true (``gpadl->decrypted =
    true`` before the conversion, kept when it fails: the out-parameter the caller tests)."""
    start: tuple[int, bool, str, Flags] = (0, False, "unchecked", frozenset())  # ENTRY = 0
    seen = {start}
    queue = deque([start])
    nonzero = False
    common: set[str] | None = None
    while queue and len(seen) < _MAX_WALK:
        node_id, passed, status, flags = queue.popleft()
        node = func.cfg.nodes[node_id]
        if node_id == conv.node:
            passed, status = True, "unchecked"
        if func.assignments_at(node_id):
            flags = update_flags(flags, flag_assignments(func, node_id))
        if node.kind == "return" and passed and status == "failed":
            ast = node.ast
            value = strip(ast.named_children[0]) if ast is not None and ast.named_children else None
            if value is not None and text_of(value).replace(" ", "") not in _ZERO:
                nonzero = True
                true_now = {lv for lv, on in flags if on}
                common = true_now if common is None else common & true_now
        for edge in node.succ:
            nxt_status = status
            if passed and edge.kind in ("true", "false") and edge.cond is not None:
                implied = implied_status(edge.cond, edge.kind == "true", conv.call, conv.result_var)
                if implied is not None:
                    if status != "unchecked" and implied != status:
                        continue
                    nxt_status = implied
            nxt = (edge.dst, passed, nxt_status, flags)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    out: list[tuple[int, str]] = []
    for lvalue in sorted(common or ()):
        root, sep, field_name = lvalue.partition("->")
        if sep and field_name.isidentifier() and root in func.params:
            out.append((func.params.index(root), field_name))
    return _Failure(nonzero, tuple(out))


def fail_summary(func: Function) -> ApiEntry | None:
    """A conversion entry for ``func`` when it converts a parameter's memory and returns
    non-zero on some path where that failed (the caller must then leak the memory)."""
    for conv in func.events_of("conversion"):
        index = _param_of(func, conv)
        if index is None or conv.entry.direction is None:
            continue
        failure = _on_failure(func, conv)
        if failure.returns_nonzero:
            return ApiEntry(
                func.name,
                "conversion",
                index,
                direction=conv.entry.direction,
                wrapper_of=conv.name,
                failure_flags=failure.flags,
            )
    return None


def _root_name(lvalue: str) -> str:
    end = 0
    while end < len(lvalue) and (lvalue[end].isalnum() or lvalue[end] == "_"):
        end += 1
    return lvalue[:end]


def _declared_names(node: Node) -> set[str]:
    """Names declared inside a function body (its locals)."""
    from patchbot.cparse.parse import declarator_name

    out: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == "declaration":
            for child in cur.children_by_field_name("declarator"):
                name = declarator_name(child)
                if name:
                    out.add(name)
            continue
        stack.extend(cur.named_children)
    return out


def _frees_regardless(func: Function, free: MemEvent) -> bool:
    """No path to ``free`` is known to pass a successful re-encryption of its memory."""
    from patchbot.cparse.paths import follow_conversion

    statuses: set[str] = set()
    for conv in func.events_of("conversion"):
        if conv.key != free.key or conv.entry.direction != "encrypt":
            continue
        for hit in follow_conversion(func, conv, max_states=_MAX_WALK):
            if hit.event is free:
                statuses.add(hit.status)
    return not statuses or statuses != {"ok"}


def release_summary(func: Function) -> ApiEntry | None:
    """A free entry for ``func`` naming the file-scope memory it frees (see module doc)."""
    keys: list[str] = []
    body = func.node.child_by_field_name("body")
    local: set[str] | None = None
    for free in func.events_of("free"):
        if free.key is None or free.key in keys or free.entry.kind != "free":
            continue
        lvalue = memory_lvalue(free)
        root = _root_name(lvalue or "")
        if not root or root == lvalue or root in func.params:
            continue  # a plain variable, or memory the caller handed in
        if local is None:
            local = _declared_names(body) if body is not None else set()
        if root in local or not _frees_regardless(func, free):
            continue
        keys.append(free.key)
    if not keys:
        return None
    return ApiEntry(func.name, "free", -1, wrapper_of="free", frees_keys=tuple(keys))


def called_in_file(functions: list[Function]) -> set[str]:
    """Names of the file's functions that another function of the file spells (calls)."""
    names = {f.name for f in functions}
    out: set[str] = set()
    for func in functions:
        out |= (func.words & names) - {func.name}
    return out


def derive(functions: list[Function], known: set[str], called: set[str]) -> dict[str, ApiEntry]:
    """Failing-helper and release entries for the ``called`` functions not in ``known``
    (only a caller in the file uses them; treedb summarises exported ones itself)."""
    found: dict[str, ApiEntry] = {}
    for func in functions:
        if func.name in known or func.name not in called or not func.events:
            continue
        entry = fail_summary(func) or release_summary(func)
        if entry is not None:
            found[func.name] = entry
    return found


__all__ = ["called_in_file", "derive", "fail_summary", "release_summary"]
