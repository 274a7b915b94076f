"""Per-function analysis: CFG, catalogued memory calls ("events"), buffer aliases.

``analyze_file(text)`` is the entry point (cached by content).  It parses the
normalised text, builds one ``Function`` per definition, derives same-file wrapper
summaries (summaries.py) and then lists every catalogued call as a ``MemEvent``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Node

from patchbot.cparse.catalogue import ApiEntry, Catalogue, load_catalogue
from patchbot.cparse.cfg import Cfg
from patchbot.cparse.exprs import (
    Call,
    Outline,
    _within,
    as_call,
    assigned_name,
    assignment_value,
    buffer_key,
    calls_in,
    result_variable,
    scan_assignments,
    scan_calls,
    text_of,
)
from patchbot.cparse.fragments import is_fragment, synthesize_fragments
from patchbot.cparse.normalize import Normalized, normalize
from patchbot.cparse.parse import declarator_name, parse_kernel

_new_object = object.__new__
_HELPER_ROUNDS = 2  # a failing helper's failing caller; deeper chains are rare
_set_attribute = object.__setattr__
_WORD_RE = re.compile(r"[A-Za-z_]\w*")
_DIGITS = b"0123456789"
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_RUNS = bytes(c if c in _WORD_BYTES else 32 for c in range(256))  # non-word bytes -> " "


@dataclass(frozen=True)
class MemEvent:
    """A call to a catalogued (or summarised) memory-path API inside one function."""

    node: int  # CFG node holding the call
    call: Call
    entry: ApiEntry
    key: str | None  # alias-resolved buffer key of the memory argument
    result_var: str | None  # ``rc`` in ``rc = set_memory_decrypted(...)``
    note: str = ""  # for implicit events: "page freed by __free(kfree) on return"

    def __hash__(self) -> int:
        # path walks hash their states, and each state's governing event, many times per
        # function: hash the fields once (equality stays the dataclass's)
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.node, self.call, self.entry, self.key, self.result_var, self.note))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def line(self) -> int:
        return self.call.line


@dataclass
class Function:
    """One function definition.  The CFG, aliases and call list are built on first use:
    most functions of a large file never name a catalogued call, and rules skip them."""

    name: str
    node: Node  # the function_definition
    params: list[str]
    start_line: int
    end_line: int
    cleanups: list[tuple[str, str, int]] = field(default_factory=list)  # (var, fn, line)
    events: list[MemEvent] = field(default_factory=list)
    norm: Normalized | None = field(default=None, repr=False, compare=False)
    _cfg: Cfg | None = field(default=None, repr=False, compare=False)
    _aliases: dict[str, str] | None = field(default=None, repr=False, compare=False)
    _calls: list[tuple[int, Call]] | None = field(default=None, repr=False, compare=False)
    _assignments: list[Node] | None = field(default=None, repr=False, compare=False)
    outline: Outline | None = field(default=None, repr=False, compare=False)
    _words: frozenset[str] | None = field(default=None, repr=False, compare=False)
    _node_assignments: dict[int, list[tuple[str | None, int, int]]] | None = field(
        default=None, repr=False, compare=False
    )
    _sorted_assignments: tuple[list[Node], list[int]] | None = field(
        default=None, repr=False, compare=False
    )
    _assigned_names: list[str | None] | None = field(default=None, repr=False, compare=False)
    _named_calls: dict[frozenset[str], list[tuple[int, Call]]] | None = field(
        default=None, repr=False, compare=False
    )
    _ast_owners: dict[Node, int] | None = field(default=None, repr=False, compare=False)

    @property
    def words(self) -> frozenset[str]:
        """The identifiers the function spells (a cheap test before any tree walk)."""
        if self._words is None:
            raw = self.node.text or b""
            if raw.isascii():
                # _WORD_RE's matches without the regex engine: each maximal run of word
                # characters, split at C speed, less any leading digits ("10UL" -> "UL")
                found = {run.lstrip(_DIGITS).decode() for run in set(raw.translate(_RUNS).split())}
                found.discard("")
                self._words = frozenset(found)
            else:
                self._words = frozenset(_WORD_RE.findall(raw.decode("utf-8", "replace")))
        return self._words

    def _outline(self) -> Outline:
        if self.outline is None:
            self.outline = Outline.of(self.node)
        return self.outline

    def _assignments_by_start(self) -> tuple[list[Node], list[int]]:
        """Every assignment node of the function sorted by (start, -end), and the starts.

        A tree without errors is searched for its "=" bytes (scan_assignments), a few
        lookups per assignment; one with errors gets the query over every node."""
        if self._sorted_assignments is None:
            if self.node.has_error:
                outline = self._outline()
                self._sorted_assignments = (outline.assignments, outline.assignment_starts)
            else:
                found = scan_assignments(self.node, self.node.text or b"")
                self._sorted_assignments = (found, [n.start_byte for n in found])
        return self._sorted_assignments

    def assignments(self) -> list[Node]:
        """Every ``x = v`` / ``T x = v`` in the body, in the order of a stack walk that
        pops the last child first (see Outline.assignments_within)."""
        if self._assignments is None:
            body = self.node.child_by_field_name("body")
            if body is None:
                self._assignments = []
            else:
                nodes, starts = self._assignments_by_start()
                inside = _within(nodes, starts, body)
                inside.sort(key=lambda n: (n.end_byte, -n.start_byte), reverse=True)
                self._assignments = inside
        return self._assignments

    def assigned_names(self) -> list[str | None]:
        """assigned_name() of each of assignments(), in the same order (aliases, wrapper
        summaries and the CoCo helpers all read them)."""
        if self._assigned_names is None:
            self._assigned_names = [assigned_name(cur) for cur in self.assignments()]
        return self._assigned_names

    def assignments_at(self, node_id: int) -> list[tuple[str | None, int, int]]:
        """(assigned name, start byte, end byte) of every ``x = v`` / ``T x = v`` in CFG
        node ``node_id``'s statement or condition (empty for nodes without one).

        Read from the function's query result by byte range and kept per node: path walks
        ask about the same nodes again and again, and walking each statement's subtree
        in Python was most of their cost."""
        cache = self._node_assignments
        if cache is None:
            cache = self._node_assignments = {}
        found = cache.get(node_id)
        if found is None:
            found = []
            ast = self.cfg.nodes[node_id].ast
            if ast is not None:
                nodes, starts = self._assignments_by_start()
                end = ast.end_byte
                index = bisect_left(starts, ast.start_byte)
                while index < len(nodes) and starts[index] < end:
                    cur = nodes[index]
                    cur_end = cur.end_byte
                    if cur_end <= end:
                        found.append((assigned_name(cur), starts[index], cur_end))
                    index += 1
            cache[node_id] = found
        return found

    @property
    def cfg(self) -> Cfg:
        if self._cfg is None:
            body = self.node.child_by_field_name("body")
            assert body is not None  # _functions() keeps only definitions with a body
            loops, guards = (
                (self.norm.loop_macros, self.norm.scoped_guards) if self.norm else ({}, frozenset())
            )
            self._cfg = Cfg(self.name, body, loop_macros=loops, scoped_guards=guards)
        return self._cfg

    @property
    def aliases(self) -> dict[str, str]:
        """key -> representative key of simple renames of the same memory."""
        if self._aliases is None:
            self._aliases = _aliases(self)
        return self._aliases

    @property
    def display_name(self) -> str | None:
        """The name for reports: None for a body fragment whose header the diff omits."""
        return None if is_fragment(self.name) else self.name

    def calls(self) -> list[tuple[int, Call]]:
        """(CFG node id, call) for every named call in the body (computed once: summaries
        and events both need it)."""
        if self._calls is None:
            self._calls = _calls_by_cfg_node(self)
        return self._calls

    def named_calls(self, names: frozenset[str]) -> list[tuple[int, Call]]:
        """The members of calls() whose name is in ``names``, in the same order.

        A tree without errors is searched for the names' bytes (scan_calls) and each call
        placed in the CFG node whose statement or condition is its nearest ancestor, so
        neither the query over every node nor a Call for every call is needed; events
        and summaries ask only for the catalogued names."""
        cache = self._named_calls
        if cache is None:
            cache = self._named_calls = {}
        found = cache.get(names)
        if found is None:
            found = None if self.node.has_error or self._calls is not None else self._placed(names)
            if found is None:
                found = [(nid, call) for nid, call in self.calls() if call.name in names]
            cache[names] = found
        return found

    def _placed(self, names: frozenset[str]) -> list[tuple[int, Call]] | None:
        """named_calls() from scan_calls(), or None if some call lies under two CFG nodes'
        statements (calls() lists it under both; no CFG built here nests them)."""
        owners = self._ast_owners
        if owners is None:
            owners = self._ast_owners = {n.ast: n.id for n in self.cfg.nodes if n.ast is not None}
        placed: list[tuple[int, int, Call]] = []
        for node in scan_calls(self.node, self.node.text or b"", sorted(names)):
            owner = None
            cur: Node | None = node
            while cur is not None:  # up to the root: a second owner means nesting
                nid = owners.get(cur)
                if nid is not None:
                    if owner is not None:
                        return None
                    owner = nid
                cur = cur.parent
            if owner is not None:
                call = as_call(node)
                if call is not None:
                    placed.append((owner, node.start_byte, call))
        placed.sort(key=lambda item: item[:2])
        return [(nid, call) for nid, _start, call in placed]

    def resolve(self, key: str | None) -> str | None:
        return self.aliases.get(key, key) if key is not None else None

    def key_of(self, expr: Node | None) -> str | None:
        return self.resolve(buffer_key(expr))

    def events_of(self, *kinds: str) -> list[MemEvent]:
        return [e for e in self.events if e.kind in kinds]


@dataclass
class FileAnalysis:
    text: str
    functions: list[Function]
    catalogue: Catalogue  # the base catalogue extended by this file's wrapper summaries
    summaries: dict[str, ApiEntry]  # wrapper name -> derived entry
    # failing helpers and file-scope releases (helpers.py): in the catalogue, not wrappers
    helpers: dict[str, ApiEntry] = field(default_factory=dict)

    def function(self, name: str) -> Function | None:
        return next((f for f in self.functions if f.name == name), None)

    def function_at(self, line: int) -> Function | None:
        return next((f for f in self.functions if f.start_line <= line <= f.end_line), None)


def _calls_by_cfg_node(func: Function) -> list[tuple[int, Call]]:
    """Each CFG node's calls (those inside its statement or condition), nodes in CFG order.

    One C-level query over the function (Outline), then a byte-range lookup per node: the same
    result as calls_in() on every node's AST, without a Python walk of every subtree.
    """
    found = func._outline().calls_within(func.node)
    # byte ranges read once: a Node attribute read builds a new Python int each time
    starts = [n.start_byte for n in found]
    ends = [n.end_byte for n in found]
    count = len(found)
    out: list[tuple[int, Call]] = []
    for cnode in func.cfg.nodes:
        ast = cnode.ast
        if ast is None:
            continue
        end = ast.end_byte
        index = bisect_left(starts, ast.start_byte)
        while index < count and starts[index] < end:
            if ends[index] <= end:
                call = as_call(found[index])
                if call is not None:
                    out.append((cnode.id, call))
            index += 1
    return out


def _params(definition: Node) -> list[str]:
    decl = definition.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    plist = decl.child_by_field_name("parameters") if decl is not None else None
    names: list[str] = []
    for param in plist.named_children if plist is not None else []:
        if param.type == "parameter_declaration":
            names.append(declarator_name(param.child_by_field_name("declarator")) or "")
    return names


def _aliases(func: Function) -> dict[str, str]:
    """Union simple renames of the same memory: ``addr = (unsigned long)page_address(p)``."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for cur, name in zip(func.assignments(), func.assigned_names(), strict=True):
        if not name:
            continue  # x->f = ..., a[i] = ...: no rename of a local
        other = buffer_key(assignment_value(cur), through_calls=False)
        if other and name != other:
            a, b = find(name), find(other)
            if a != b:
                parent[a] = b
    return {k: find(k) for k in parent}


# Ownership hand-offs out of a __free() variable (linux/cleanup.h): after these the
# scope-exit free no longer applies.
_TRANSFERS = ("no_free_ptr", "return_ptr", "retain_and_null_ptr", "take_fd")


def _sets_null(node: Node, var: str) -> bool:
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == "assignment_expression" and assigned_name(cur) == var:
            return text_of(cur.child_by_field_name("right")).strip() == "NULL"
        stack.extend(cur.named_children)
    return False


def _cleanup_events(func: Function, catalogue: Catalogue) -> list[MemEvent]:
    """Model ``T *p __free(fn) = ...``: every return after the declaration frees ``p``,
    unless it hands ``p`` out; a ``no_free_ptr(p)`` ends the variable's ownership."""
    events: list[MemEvent] = []
    for var, fn, line in func.cleanups:
        entry = catalogue.get(fn)
        if entry is None or entry.kind != "free":
            continue
        key = func.resolve(var)
        for cnode in func.cfg.nodes:
            if cnode.ast is None or cnode.line < line:
                continue
            transfer = next(
                (
                    c
                    for c in calls_in(cnode.ast)
                    if c.name in _TRANSFERS and c.args and text_of(c.args[0]) == var
                ),
                None,
            )
            if transfer is None and _sets_null(cnode.ast, var):
                transfer = Call(f"{var} = NULL", cnode.ast, ())
            if transfer is not None:
                kind = ApiEntry(transfer.name, "transfer", 0)
                events.append(
                    MemEvent(
                        cnode.id,
                        transfer,
                        kind,
                        key,
                        None,
                        f"{var} handed out by {transfer.name}()",
                    )
                )
            elif cnode.kind == "return":
                call = Call(fn, cnode.ast, ())
                events.append(
                    MemEvent(
                        cnode.id,
                        call,
                        entry,
                        key,
                        None,
                        f"{var} freed by __free({fn}) on this return",
                    )
                )
    return events


def _cleanups(definition: Node, offsets: dict[int, str]) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for offset, fn in offsets.items():
        if not definition.start_byte <= offset < definition.end_byte:
            continue
        node: Node | None = definition.descendant_for_byte_range(offset, offset)
        while node is not None and node.type not in ("init_declarator", "declaration"):
            node = node.parent
        if node is not None and node.type == "declaration":
            inits = [c for c in node.named_children if c.type == "init_declarator"]
            node = inits[0] if inits else None
        var = assigned_name(node)
        if var is not None and node is not None:
            out.append((var, fn, node.start_point[0] + 1))
    return out


def build_events(func: Function, catalogue: Catalogue) -> list[MemEvent]:
    named = catalogue.names_among(func.words)
    if not func.cleanups and not named:
        return []
    events: list[MemEvent] = []
    for nid, call in func.named_calls(named) if named else ():
        entry = catalogue.get(call.name)
        assert entry is not None
        for key in entry.frees_keys or (func.key_of(call.arg(entry.arg)),):
            events.append(_event(nid, call, entry, key))
    events.extend(_cleanup_events(func, catalogue))
    events.sort(key=lambda e: (e.line, e.call.node.start_byte))
    return events


def _event(nid: int, call: Call, entry: ApiEntry, key: str | None) -> MemEvent:
    # MemEvent(nid, call, entry, key, var) without the frozen dataclass's guarded
    # setattr per field: the same, equal object
    event = _new_object(MemEvent)
    _set_attribute(
        event,
        "__dict__",
        {
            "node": nid,
            "call": call,
            "entry": entry,
            "key": key,
            "result_var": result_variable(call),
            "note": "",
        },
    )
    return event


def _functions(text: str) -> list[Function]:
    text = synthesize_fragments(text)  # hunk-only files: bodies without their header
    norm = normalize(text)
    tree = parse_kernel(text)
    out: list[Function] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            name = declarator_name(node.child_by_field_name("declarator"))
            body = node.child_by_field_name("body")
            if name and body is not None:
                func = Function(
                    name, node, _params(node), node.start_point[0] + 1, node.end_point[0] + 1
                )
                func.norm = norm
                func.cleanups = _cleanups(node, norm.cleanups)
                out.append(func)
            continue
        stack.extend(node.children)
    out.sort(key=lambda f: f.start_line)
    # no file-wide Outline query: each function runs its own on first use, and most
    # functions (those naming no catalogued call) never need one
    return out


def analyze_file(text: str, catalogue_path: str | None = None) -> FileAnalysis:
    """Parse, build CFGs, summarise same-file wrappers and list memory events; the
    catalogue is extended by the cross-file summaries in effect (``treedb.active``)."""
    from patchbot.cparse.treedb import entries_for

    return analyze_file_with(text, entries_for(text), catalogue_path)


@lru_cache(maxsize=64)
def analyze_file_with(
    text: str, extra: tuple[ApiEntry, ...] = (), catalogue_path: str | None = None
) -> FileAnalysis:
    """analyze_file() with explicit cross-file entries (cached by text and entries)."""
    from patchbot.cparse.helpers import called_in_file, derive
    from patchbot.cparse.summaries import summarise

    base = load_catalogue(catalogue_path)
    if extra:
        base = base.with_entries({e.name: e for e in extra})
    functions = _functions(text)
    summaries = summarise(functions, base)
    catalogue = base.with_entries(summaries)
    for func in functions:
        func.events = build_events(func, catalogue)
    helpers: dict[str, ApiEntry] = {}
    # both kinds of helper matter only to a caller in the file whose conversion may fail:
    # a file without a conversion (most of a linted series) skips the derivation
    called = (
        called_in_file(functions) if any(f.events_of("conversion") for f in functions) else set()
    )
    for _round in range(_HELPER_ROUNDS):
        # helpers that fail with nonzero or free file-scope memory (helpers.py) need the
        # events: derive them, then rebuild the events of the functions that call them
        derived = derive(functions, set(catalogue.entries), called)
        if not derived:
            break
        helpers.update(derived)
        base = base.with_entries(derived)
        summaries = summarise(functions, base)
        catalogue = base.with_entries(summaries)
        names = frozenset(derived) | frozenset(summaries)
        called = set()  # the next round: only functions whose events change now
        for func in functions:
            if func.words & names:
                func.events = build_events(func, catalogue)
                called.add(func.name)
    return FileAnalysis(text, functions, catalogue, summaries, helpers)


def call_named(node: Node | None, names: set[str]) -> Call | None:
    """The first call under ``node`` whose name is in ``names``."""
    return next((c for c in calls_in(node) if c.name in names), None)


__all__ = [
    "FileAnalysis",
    "Function",
    "MemEvent",
    "analyze_file",
    "analyze_file_with",
    "build_events",
    "call_named",
]
