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

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from patchbot.cparse.catalogue import ApiEntry, Catalogue
from patchbot.cparse.exprs import text_of
from patchbot.cparse.helpers import fail_summary

if TYPE_CHECKING:
    from patchbot.api import SourceFile
    from patchbot.cparse.functions import Function

_ROUNDS = 2  # helper -> caller-wrapper chains across files deeper than this are rare


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


def _summaries(text: str, extra: tuple[ApiEntry, ...]) -> dict[str, ApiEntry]:
    from patchbot.cparse.functions import analyze_file_with

    # the file's analysis derives its failing helpers (helpers.py), static ones included,
    # and the exported wrappers of those; release summaries name file-scope memory and
    # stay in their file
    fa = analyze_file_with(text, extra)
    found: dict[str, ApiEntry] = {}
    for func in fa.functions:
        if not _is_exported(func):
            continue
        derived = fa.summaries.get(func.name) or fa.helpers.get(func.name)
        if derived is None or derived.frees_keys:
            derived = fail_summary(func)  # a failing helper no caller in its file uses
        if derived is not None and not derived.frees_keys:
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
