"""The kernel tree the current directory is in, found as checkpatch.pl finds its tree.

checkpatch's top_of_kernel_tree() asks for the files a kernel tree has at its top; this
looks for three of them (MAINTAINERS, Kbuild, scripts/checkpatch.pl) in the directory and
each of its parents, so `patchbot lint series.mbox` run anywhere inside a kernel checkout
reads whole pre-image files from it, as `--tree` would.
"""

from __future__ import annotations

from pathlib import Path

MARKERS = ("MAINTAINERS", "Kbuild", "scripts/checkpatch.pl")


def is_kernel_top(path: Path) -> bool:
    return all((path / marker).is_file() for marker in MARKERS)


def enclosing_kernel_tree(start: Path | None = None) -> Path | None:
    """The top of the kernel tree ``start`` (default: the current directory) is in."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_kernel_top(candidate):
            return candidate
    return None
