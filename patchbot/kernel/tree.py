"""Find or build the default kernel tree.

The default tree is Debian's linux-source-6.1 tarball, extracted once under
~/.cache/patchbot (or $PATCHBOT_CACHE).  Extraction goes to a temporary directory that is
renamed into place, so an interrupted run never leaves a half tree behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from patchbot.errors import InputError

log = logging.getLogger(__name__)

TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
TREE_NAME = "linux-source-6.1"
DEBIAN_PACKAGE = "linux-source-6.1"


def cache_dir() -> Path:
    root = os.environ.get("PATCHBOT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "patchbot"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_tree(tarball: Path = TARBALL) -> Path:
    """Return the extracted linux-source-6.1 tree, extracting it on first use (~20 s)."""
    dest = cache_dir() / TREE_NAME
    stamp = dest / ".patchbot-extracted"
    if stamp.exists():
        return dest
    if not tarball.exists():
        raise InputError(
            f"{tarball} not found: install the Debian package {DEBIAN_PACKAGE} "
            "(apt-get install linux-source-6.1) or pass --tree PATH"
        )
    lock_path = cache_dir() / f".{TREE_NAME}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers extract only once
        if stamp.exists():
            return dest
        log.info("extracting %s into %s", tarball, dest)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir()))
        try:
            subprocess.run(["tar", "-xJf", str(tarball), "-C", str(tmp)], check=True)
            extracted = tmp / TREE_NAME
            if dest.exists():
                shutil.rmtree(dest)
            extracted.rename(dest)
            stamp.write_text(str(tarball) + "\n")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def resolve_tree(tree: str | None) -> Path:
    """--tree PATH if given (must exist), else the cached default tree."""
    if tree is None:
        return default_tree()
    path = Path(tree)
    if not path.is_dir():
        raise InputError(f"--tree {tree}: not a directory")
    return path
