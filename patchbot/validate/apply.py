"""Apply a series to scratch copies of the files it touches.

The series is read with the project's parser (patchbot.series.load.load_series: mboxes in
any order, format-patch directories, stdin '-', damaged mail), so `validate` sees the same
patches `lint` does.  Each patch's diff is then applied in series order with patch(1) to
copies of only the touched files, so the cached tree is never modified.  A patch that
does not apply is an InputError (exit code 2) naming the patch and the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from patchbot.errors import InputError
from patchbot.series.load import load_series
from patchbot.series.model import Patch, Series

_PATCHING = re.compile(r"^(?:patching|checking) file '?([^'\n]+)'?", re.M)


@dataclass
class AppliedSeries:
    series: Series
    touched: list[str]  # post-image paths of every file the series changes, sorted


def read_series(inputs: Sequence[str], stdin: BinaryIO | None = None) -> Series:
    series = load_series(list(inputs), stdin=stdin)
    if not any(p.files for p in series.patches):
        raise InputError(f"{series.source or ', '.join(inputs)}: no diff found in the series")
    return series


def patch_texts(series: Series) -> list[tuple[str, str]]:
    """(name, diff text) of every patch with a diff, in series order."""
    return [(_name(p), p.diff_text) for p in series.patches if p.diff_text]


def _name(patch: Patch) -> str:
    label = f"patch {patch.label}" if patch.number is not None else f"patch {patch.title!r}"
    return f"{label} ({patch.source})" if patch.source else label


def _failed_file(output: str) -> str:
    """The file patch(1) was working on when it first failed."""
    current = ""
    for line in output.splitlines():
        m = _PATCHING.match(line)
        if m:
            current = m.group(1).strip()
        elif "FAILED" in line or "malformed" in line.lower() or "can't find file" in line:
            return current
    return current


def apply_series(series: Series, tree: Path, scratch: Path) -> AppliedSeries:
    """Copy the touched files from ``tree`` into ``scratch`` and apply ``series`` there."""
    touched: set[str] = set()
    for patch in series.patches:
        if not patch.diff_text:
            continue
        name = _name(patch)
        for fd in patch.files:
            if fd.old_path and not (scratch / fd.old_path).exists():
                src = tree / fd.old_path
                if not src.is_file():
                    raise InputError(
                        f"{name} patches {fd.old_path}, which is not in the tree {tree}"
                    )
                dest = scratch / fd.old_path
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
            if fd.new_path:
                touched.add(fd.new_path)
        _apply_one(name, patch.diff_text, tree, scratch)
    if not touched:
        raise InputError(f"{series.source}: no diff found in the series")
    return AppliedSeries(series, sorted(touched))


def _apply_one(name: str, diff_text: str, tree: Path, scratch: Path) -> None:
    cmd = ["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-r", "-"]
    check = subprocess.run(
        [*cmd, "--dry-run", "-d", str(scratch)], input=diff_text, capture_output=True, text=True
    )
    if check.returncode != 0:  # dry run first: a half-applied patch is never left behind
        output = (check.stdout + check.stderr).strip()
        where = _failed_file(output)
        lines = output.splitlines()
        detail = next(
            (ln for ln in lines if "FAILED" in ln or "malformed" in ln.lower()),
            lines[-1] if lines else "patch failed",
        )
        target = f" to {where}" if where else ""
        raise InputError(f"{name} does not apply{target} in {tree}: {detail.strip()}")
    subprocess.run([*cmd, "-s", "-d", str(scratch)], input=diff_text, check=True, text=True)
