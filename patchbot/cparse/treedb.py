"""Cross-file function summaries: which exported functions convert or free what.

Same-file wrapper summaries (``summaries``) cannot see a bus helper in another file that
decrypts the buffer it was handed and fails, while its caller frees that buffer (issue
18, class 1: the Hyper-V netvsc/uio fixes bbf9ac34677b and 3d788b2fbe6a).  This module
is a small function database in the spirit of smatch's: for every non-static function
of a set of files it records

* ``conversion`` of parameter i (with the direction) when the function converts that
  parameter's memory and some path on which the conversion failed returns a value that
  is not a constant zero: a caller seeing nonzero must treat the memory as unknown;
* the same-file wrapper summaries (pure conversion wrappers, release-named free /
  hand-back wrappers) of exported functions.

``build(files)`` summarises the files naming a catalogued conversion, then the files
naming a function found so far (wrappers of wrappers across files, ``_ROUNDS`` deep).
Each file's summaries are cached by its content (``summarise_text``), so a tree is
summarised once per process and a re-lint only pays for changed files.

The database in effect is set per run with ``with active(db):`` (the engine does it for
audit runs); ``analyze_file`` then extends each file's catalogue with the entries whose
names the file mentions (``entries_for``), so every CoCo rule sees them in every mode.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from patchbot.cparse.catalogue import ApiEntry, Catalogue
from patchbot.cparse.exprs import implied_status, strip, text_of
from patchbot.cparse.objects import Flags, flag_assignments, update_flags

if TYPE_CHECKING:
    from patchbot.api import SourceFile
    from patchbot.cparse.functions import Function, MemEvent

_ROUNDS = 2  # helper -> caller-wrapper chains across files deeper than this are rare
_MAX_WALK = 4000  # walk states per conversion; helpers are short
_ZERO = ("0", "NULL", "false")


@dataclass(frozen=True)
class TreeDb:
    entries: dict[str, ApiEntry] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)  # function name -> defining path

    def entries_for(self, text: str) -> tuple[ApiEntry, ...]:
        """The entries named in ``text`` (a substring test per entry, in C)."""
        return tuple(e for name, e in sorted(self.entries.items()) if name in text)

    def overlaid(self, newer: TreeDb, paths: Iterable[str]) -> TreeDb:
        """This database with the files at ``paths`` replaced by ``newer``'s view of them
        (a series' post-images over the tree they apply to)."""
        replaced = set(paths)
        entries = {n: e for n, e in self.entries.items() if self.where.get(n) not in replaced}
        where = {n: w for n, w in self.where.items() if n in entries}
        entries.update(newer.entries)
        where.update(newer.where)
        return TreeDb(entries, where)


_ACTIVE: ContextVar[TreeDb | None] = ContextVar("patchbot_treedb", default=None)


@contextmanager
def active(db: TreeDb) -> Iterator[TreeDb]:
    token = _ACTIVE.set(db)
    try:
        yield db
    finally:
        _ACTIVE.reset(token)


def entries_for(text: str) -> tuple[ApiEntry, ...]:
    db = _ACTIVE.get()
    return db.entries_for(text) if db is not None and db.entries else ()


def current() -> TreeDb:
    """The database in effect (empty outside ``active``)."""
    return _ACTIVE.get() or TreeDb()


def with_files(files: Iterable[SourceFile]) -> TreeDb:
    """The database in effect overlaid with the summaries of ``files`` (the engine's view:
    a tree database set by the lint command, plus the files being linted)."""
    files = list(files)
    return current().overlaid(build(files), [f.path for f in files])


def _is_exported(func: Function) -> bool:
    head = text_of(func.node).split("(", 1)[0]
    return "static" not in head.split()


def _param_of(func: Function, event: MemEvent) -> int | None:
    from patchbot.cparse.exprs import identifiers_in

    arg = event.call.arg(event.entry.arg)
    ids = identifiers_in(arg)
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


def _fail_summary(func: Function) -> ApiEntry | None:
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


def _summaries(text: str, extra: tuple[ApiEntry, ...]) -> dict[str, ApiEntry]:
    from patchbot.cparse.functions import analyze_file_with

    fa = analyze_file_with(text, extra)
    local = {f.name: s for f in fa.functions if (s := _fail_summary(f)) is not None}
    hidden = [s for f in fa.functions if not _is_exported(f) and (s := local.get(f.name))]
    if hidden:
        # static helpers that fail this way make their exported same-file wrappers
        # conversions too (vmbus_establish_gpadl() -> __vmbus_establish_gpadl())
        fa = analyze_file_with(text, extra + tuple(hidden))
    found: dict[str, ApiEntry] = {}
    for func in fa.functions:
        if not _is_exported(func):
            continue
        derived = fa.summaries.get(func.name) or local.get(func.name)
        if derived is not None:
            found[func.name] = derived
    return found


@lru_cache(maxsize=4096)
def summarise_text(text: str, extra: tuple[ApiEntry, ...] = ()) -> dict[str, ApiEntry]:
    """One file's exported summaries, cached by content (and the cross-file entries it
    saw, for the later rounds)."""
    return _summaries(text, extra)


def build(files: Iterable[SourceFile], catalogue: Catalogue | None = None) -> TreeDb:
    from patchbot.cparse.catalogue import load_catalogue

    base = catalogue or load_catalogue()
    names = tuple(base.of_kind("conversion"))
    files = list(files)
    entries: dict[str, ApiEntry] = {}
    where: dict[str, str] = {}
    done: set[str] = set()
    wanted = names
    for _round in range(_ROUNDS):
        todo = [f for f in files if f.path not in done and any(n in f.text for n in wanted)]
        if not todo:
            break
        new: dict[str, ApiEntry] = {}
        for file in todo:
            done.add(file.path)
            db = TreeDb(entries)
            for name, entry in summarise_text(file.text, db.entries_for(file.text)).items():
                if base.get(name) is None and name not in entries:
                    new[name] = entry
                    where[name] = file.path
        entries.update(new)
        wanted = tuple(new)
    return TreeDb(entries, where)


__all__ = ["TreeDb", "active", "build", "current", "entries_for", "summarise_text", "with_files"]
