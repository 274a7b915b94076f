"""The tree database on disk: ``treedb`` summaries of a whole kernel tree, built once.

``for_tree(tree)`` scans every ``.c`` file of the tree for a catalogued conversion name
(bytes, no parse), summarises the files that name one (``treedb.build``), and stores the
entries with each summarised file's content hash under ``<cache>/treedb/``.  A later
call re-hashes only those files (about twenty in 6.1 and 6.12) and reuses the entries
when all match; a changed file, catalogue or summary version rebuilds.

Measured on Debian's linux-source-6.1 (32,005 .c files, 588 MB), 2-core VM under load:
the cold scan is about 5 s of CPU (47 s of wall time on a cold page cache, I/O bound);
the warm load is a few milliseconds (see bench/coco_independent.py --tree-db).

One round only: helpers that call a conversion directly.  Wrappers of those wrappers in a
third file are found when that file is linted together with its callers (audit runs,
series), not from the stored tree database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from patchbot.api import SourceFile
from patchbot.cparse.catalogue import ApiEntry, default_path, load_catalogue
from patchbot.cparse.treedb import TreeDb, build

log = logging.getLogger(__name__)

_VERSION = 3  # bump when what a summary means changes (2: failure flags, 3: helpers.py)


def _digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _store(tree: Path) -> Path:
    from patchbot.kernel.tree import cache_dir

    catalogue = Path(default_path()).read_bytes()
    key = _digest(f"{tree.resolve()}\0{_VERSION}\0".encode() + catalogue)[:16]
    folder = cache_dir() / "treedb"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{tree.name}-{key}.json"


def _load(store: Path, tree: Path) -> TreeDb | None:
    try:
        data = json.loads(store.read_text())
    except (OSError, ValueError):
        return None
    for rel, digest in data["files"].items():
        try:
            if _digest((tree / rel).read_bytes()) != digest:
                return None
        except OSError:
            return None
    entries: dict[str, ApiEntry] = {}
    for raw in data["entries"]:
        raw["failure_flags"] = tuple((int(i), str(f)) for i, f in raw.get("failure_flags", ()))
        raw["frees_keys"] = tuple(str(k) for k in raw.get("frees_keys", ()))
        entries[raw["name"]] = ApiEntry(**raw)
    return TreeDb(entries, dict(data["where"]))


def _scan(tree: Path, names: list[bytes]) -> tuple[list[SourceFile], dict[str, str]]:
    """The .c files naming a conversion, and the hash of each one's bytes."""
    out: list[SourceFile] = []
    digests: dict[str, str] = {}
    for root, _dirs, files in os.walk(tree):
        for name in files:
            if not name.endswith(".c"):
                continue
            path = Path(root) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(n in data for n in names):
                rel = path.relative_to(tree).as_posix()
                out.append(SourceFile(path=rel, text=data.decode("utf-8", "replace")))
                digests[rel] = _digest(data)
    return out, digests


def for_tree(tree: Path) -> TreeDb:
    """The tree's summaries, from the store when still valid, else built and stored."""
    store = _store(tree)
    cached = _load(store, tree)
    if cached is not None:
        return cached
    names = [n.encode() for n in load_catalogue().of_kind("conversion")]
    files, digests = _scan(tree, names)
    db = build(files)
    record = {
        "files": digests,
        "entries": [vars(e) for e in db.entries.values()],
        "where": db.where,
    }
    try:
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
        tmp.replace(store)
    except OSError as exc:  # a read-only cache still lints, just without the store
        log.warning("cannot store the tree database in %s: %s", store, exc)
    return db


__all__ = ["for_tree"]
