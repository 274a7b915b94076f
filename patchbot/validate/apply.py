"""Apply a series to scratch copies of the files it touches.

The series is read with the project's parser (patchbot.series.load.load_series: mboxes in
any order, format-patch directories, stdin '-', damaged mail), so `validate` sees the same
patches `lint` does.  Each patch's diff is then applied in series order with patch(1) to
copies of only the touched files, so the cached tree is never modified.  A patch that
does not apply is an InputError (exit code 2) naming the patch and the file.

Nothing a series names is written outside the scratch tree (issue 15: a symlink patch
followed by a patch beneath it used to make the copy step write through the link):

* a diff that creates, deletes or changes a symbolic link (git mode 120000, on a
  ``new file mode``, ``deleted file mode``, ``old/new mode`` or ``index`` line) is
  refused for the whole series before anything is copied: a kernel series has no
  business adding links, and patch(1) would create them;
* every destination (each copied file, and each file patch(1)'s dry run says it will
  write) must resolve inside the scratch tree after following the links of its
  existing components, and the scratch tree must hold no link after each patch;
* a tree file is copied only when it resolves inside the tree.
"""

from __future__ import annotations

import os
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
# what patch(1) --dry-run says it would write: "checking file NEW (renamed from OLD)"
_CHECKING = re.compile(r"^checking file (.+?)(?: \((?:renamed|copied) from (.+)\))?$", re.M)
# git's mode for a symbolic link, wherever a git diff header can carry a mode; patch(1)
# skips any run of blanks before the six octal digits, so "mode  120000" counts too
_SYMLINK_MODE = re.compile(
    r"^(?:(?:new file|deleted file|old|new) mode|index [0-9a-fA-F]+\.\.[0-9a-fA-F]+)"
    r"\s+120000\s*$"
)


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


def symlink_paths(diff_text: str) -> list[str]:
    """The files of ``diff_text`` whose git headers give them the symlink mode 120000."""
    found: list[str] = []
    current = ""
    for line in diff_text.splitlines():
        if line.startswith("diff --git "):
            rest = line[len("diff --git ") :].strip('"')
            current = rest.rpartition(" b/")[2] if " b/" in rest else rest
        elif _SYMLINK_MODE.match(line) and current not in found:
            found.append(current or "?")
    return found


def refuse_symlinks(series: Series) -> None:
    """InputError for the first patch of ``series`` that touches a symbolic link."""
    for patch in series.patches:
        links = symlink_paths(patch.diff_text) if patch.diff_text else []
        if links:
            raise InputError(
                f"{_name(patch)}: {', '.join(links)} is a symbolic link in this diff "
                "(git mode 120000); patchbot does not apply symlink diffs"
            )


def _inside(root: Path, rel: str) -> bool:
    """Whether ``root / rel`` stays under ``root`` (already resolved) once the links of
    its existing components are followed."""
    target = (root / rel).resolve()
    return target == root or root in target.parents


def _check_destination(name: str, scratch: Path, rel: str) -> None:
    if not _inside(scratch, rel):
        raise InputError(f"{name} writes {rel}, which resolves outside the scratch tree")


def _links_in(scratch: Path) -> list[str]:
    """Every symbolic link under ``scratch`` (it holds only the touched files: cheap)."""
    found = []
    for top, dirs, files in os.walk(scratch):  # followlinks=False: links are listed, not entered
        for entry in (*dirs, *files):
            path = Path(top, entry)
            if path.is_symlink():
                found.append(path.relative_to(scratch).as_posix())
    return sorted(found)


def apply_series(series: Series, tree: Path, scratch: Path) -> AppliedSeries:
    """Copy the touched files from ``tree`` into ``scratch`` and apply ``series`` there."""
    refuse_symlinks(series)  # before anything is copied or applied
    scratch.mkdir(parents=True, exist_ok=True)
    scratch = scratch.resolve()
    real_tree = tree.resolve()
    touched: set[str] = set()
    for patch in series.patches:
        if not patch.diff_text:
            continue
        name = _name(patch)
        for fd in patch.files:
            for rel in (fd.old_path, fd.new_path):
                if rel:
                    _check_destination(name, scratch, rel)
            if fd.old_path and not (scratch / fd.old_path).exists():
                _copy_from_tree(name, tree, real_tree, fd.old_path, scratch)
            if fd.new_path:
                touched.add(fd.new_path)
        _apply_one(name, patch.diff_text, tree, scratch)
        links = _links_in(scratch)
        if links:  # patch(1) made one from a header refuse_symlinks() did not foresee
            raise InputError(f"{name} leaves a symbolic link in the scratch tree: {links[0]}")
    if not touched:
        raise InputError(f"{series.source}: no diff found in the series")
    return AppliedSeries(series, sorted(touched))


def _copy_from_tree(name: str, tree: Path, real_tree: Path, rel: str, scratch: Path) -> None:
    src = tree / rel
    if not src.is_file():
        raise InputError(f"{name} patches {rel}, which is not in the tree {tree}")
    if not _inside(real_tree, rel):
        raise InputError(f"{name} patches {rel}, which resolves outside the tree {tree}")
    dest = scratch / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


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
    # what patch(1) itself will write (it strips -p1 and follows rename headers the way
    # our parser may not): each of those must stay inside the scratch tree too
    for m in _CHECKING.finditer(check.stdout):
        for rel in m.groups():
            if rel:
                _check_destination(name, scratch, _unquote(rel))
    subprocess.run([*cmd, "-s", "-d", str(scratch)], input=diff_text, check=True, text=True)


def _unquote(name: str) -> str:
    """patch(1) prints a name with unusual characters in single quotes."""
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == "'" else name
