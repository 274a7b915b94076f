"""Apply a series (mbox, .patch file or directory of them) to scratch copies of the files.

Only the files the series touches are copied out of the tree, so the cached tree is
never modified.  A series that does not apply is an InputError (exit code 2).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from patchbot.errors import InputError

_TOUCHED = re.compile(r"^\+\+\+ b/(\S+)", re.M)
_OLD = re.compile(r"^--- a/(\S+)", re.M)


def series_text(path: Path) -> str:
    """The concatenated patch text of a file or of a directory's *.patch/*.mbox files."""
    if path.is_dir():
        files = sorted([*path.glob("*.patch"), *path.glob("*.mbox"), *path.glob("*.eml")])
        if not files:
            raise InputError(f"{path}: no *.patch, *.mbox or *.eml files in this directory")
        return "".join(f.read_text(errors="replace") for f in files)
    if not path.is_file():
        raise InputError(f"{path}: no such file or directory")
    return path.read_text(errors="replace")


def apply_series(series: Path, tree: Path, scratch: Path) -> list[str]:
    """Copy the touched files from ``tree`` into ``scratch`` and apply the series there.

    Returns the touched paths (relative to the tree).
    """
    text = series_text(series)
    touched = sorted(set(_TOUCHED.findall(text)))
    if not touched:
        raise InputError(f"{series}: no diff found in the series")
    for rel in sorted(set(_OLD.findall(text))):
        src = tree / rel
        if not src.is_file():
            raise InputError(f"{series}: patches {rel}, which is not in the tree {tree}")
        dest = scratch / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    proc = subprocess.run(
        [
            "patch",
            "-p1",
            "--batch",
            "--forward",
            "--no-backup-if-mismatch",
            "-r",
            "-",
            "-d",
            str(scratch),
        ],
        input=text,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip().splitlines()
        bad = next(
            (ln for ln in detail if "FAILED" in ln or "malformed" in ln.lower()),
            detail[-1] if detail else "patch failed",
        )
        raise InputError(f"{series} does not apply to {tree}: {bad}")
    return touched
