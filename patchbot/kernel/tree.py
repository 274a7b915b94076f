"""Find or extract the embedded kernel trees.

patchbot knows Debian's linux-source packages (6.1 from bookworm, 6.12 from
bookworm-backports).  Each tarball is extracted once under ~/.cache/patchbot (or
$PATCHBOT_CACHE).  Extraction goes to a temporary directory that is renamed into place, so
an interrupted run never leaves a half tree behind.  The default tree is the newest one
installed; `--tree 6.1` (a version name) or `--tree PATH` picks another.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from patchbot.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedTree:
    version: str  # what `--tree VERSION` accepts, e.g. "6.12"
    package: str  # the Debian package that ships the tarball

    @property
    def name(self) -> str:  # the tarball's top directory and the cache directory
        return self.package

    @property
    def tarball(self) -> Path:
        return Path(f"/usr/src/{self.package}.tar.xz")

    def installed(self) -> bool:
        return self.tarball.exists()


# Oldest first.
EMBEDDED: tuple[EmbeddedTree, ...] = (
    EmbeddedTree("6.1", "linux-source-6.1"),
    EmbeddedTree("6.12", "linux-source-6.12"),
)
_BY_VERSION = {t.version: t for t in EMBEDDED}

# Kept for the callers that name the 6.1 tree on purpose (the labelled corpus, the example).
TARBALL = EMBEDDED[0].tarball
TREE_NAME = EMBEDDED[0].name
DEBIAN_PACKAGE = EMBEDDED[0].package


def cache_dir() -> Path:
    root = os.environ.get("PATCHBOT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "patchbot"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def installed_trees() -> list[EmbeddedTree]:
    return [t for t in EMBEDDED if t.installed()]


def embedded_names() -> set[str]:
    """The cache directory names of every embedded tree (they are never edited in place)."""
    return {t.name for t in EMBEDDED}


def is_embedded(tree: Path) -> bool:
    """True for a tree patchbot extracted into its cache (it may make it a git repo)."""
    resolved = tree.resolve()
    return any(resolved == (cache_dir() / t.name).resolve() for t in EMBEDDED)


def extract(tree: EmbeddedTree) -> Path:
    """Return the extracted tree, extracting it on first use (~20-30 s)."""
    dest = cache_dir() / tree.name
    stamp = dest / ".patchbot-extracted"
    if stamp.exists():
        return dest
    if not tree.installed():
        raise InputError(
            f"{tree.tarball} not found: install the Debian package {tree.package} "
            f"(apt-get install {tree.package}, or run scripts/setup.sh) or pass --tree PATH"
        )
    lock_path = cache_dir() / f".{tree.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers extract only once
        if stamp.exists():
            return dest
        log.info("extracting %s into %s", tree.tarball, dest)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir()))
        try:
            subprocess.run(["tar", "-xJf", str(tree.tarball), "-C", str(tmp)], check=True)
            extracted = tmp / tree.name
            if dest.exists():
                shutil.rmtree(dest)
            extracted.rename(dest)
            stamp.write_text(str(tree.tarball) + "\n")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def tree_for(version: str) -> Path:
    """The extracted embedded tree of ``version`` ("6.1", "6.12")."""
    known = _BY_VERSION.get(version)
    if known is None:
        names = ", ".join(t.version for t in EMBEDDED)
        raise InputError(f"no embedded kernel tree {version!r}: known versions are {names}")
    return extract(known)


def default_tree() -> Path:
    """The newest installed embedded tree, extracted on use."""
    trees = installed_trees()
    if not trees:
        packages = " or ".join(t.package for t in EMBEDDED)
        raise InputError(
            f"no kernel source installed: apt-get install {packages} "
            "(or run scripts/setup.sh), or pass --tree PATH"
        )
    return extract(trees[-1])  # EMBEDDED is oldest first


def resolve_tree(tree: str | None) -> Path:
    """--tree VERSION (an embedded tree) or --tree PATH (must exist), else the default."""
    if tree is None:
        return default_tree()
    if tree in _BY_VERSION and not Path(tree).is_dir():
        return tree_for(tree)
    path = Path(tree)
    if not path.is_dir():
        raise InputError(f"--tree {tree}: not a directory (or an embedded version: 6.1, 6.12)")
    return path
