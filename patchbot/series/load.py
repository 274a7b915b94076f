"""load_series(): every way a patch series gets into patchbot.

Inputs are mboxes, single .patch/.eml files, directories of ``git format-patch`` output,
stdin ("-"), or a git range.  All of them end up as mail messages that assemble.py turns
into one Series.  Reading is bounded: a file's size is checked before it is read, stdin
is read with a cap, so an oversized input costs nothing.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from patchbot.errors import InputError
from patchbot.series.assemble import RawMessage, assemble
from patchbot.series.gcpolicy import fewer_collections
from patchbot.series.mail import looks_like_message, split_mbox
from patchbot.series.model import Series

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
GIT_FORMAT_PATCH_DATE = b" Mon Sep 17 00:00:00 2001"


def load_series(
    inputs: Sequence[str],
    *,
    git_range: str | None = None,
    repo: str | None = None,
    tree: str | None = None,
    stdin: BinaryIO | None = None,
    max_bytes: int = 64 << 20,
) -> Series:
    """Read and parse a patch series.  Raises InputError for anything unusable."""
    with fewer_collections(_READ_GEN0_THRESHOLD):
        return _load_series(inputs, git_range, repo, tree, stdin, max_bytes)


# Reading 40 patches builds ~22,000 tracked objects (one DiffLine per diff line) and
# frees none in cycles: see gcpolicy.py.
_READ_GEN0_THRESHOLD = 100_000


def _load_series(
    inputs: Sequence[str],
    git_range: str | None,
    repo: str | None,
    tree: str | None,
    stdin: BinaryIO | None,
    max_bytes: int,
) -> Series:
    if git_range:
        from patchbot.series.gitrange import load_git_range

        series = load_git_range(git_range, repo or ".", max_bytes=max_bytes)
        if inputs:
            raise InputError("give either a git range or input files, not both")
    else:
        if not inputs:
            raise InputError("no input given: pass an mbox, patch files, a directory or '-'")
        budget = _Budget(max_bytes)
        raw: list[RawMessage] = []
        for name in inputs:
            raw.extend(_read_input(name, stdin, budget))
        series = assemble(raw, ", ".join(inputs))
    if tree is not None:
        read_tree_images(series, tree)
    return series


class _Budget:
    """Total bytes across all inputs, checked before anything is read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, name: str, size: int) -> None:
        if self.used + size > self.limit:
            raise InputError(
                f"{name} is {size} bytes, over the input limit of {self.limit} bytes"
                + (f" ({self.used} bytes already read)" if self.used else "")
            )
        self.used += size


def _read_input(name: str, stdin: BinaryIO | None, budget: _Budget) -> list[RawMessage]:
    if name == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = read_capped(stream, budget.limit - budget.used + 1)
        budget.take("standard input", len(data))
        return messages_from_bytes(data, "stdin")
    path = Path(name)
    if path.is_dir():
        return _read_directory(path, budget)
    if not path.exists():
        raise InputError(f"{name}: no such file or directory")
    data = _read_file(path, name, budget)
    return messages_from_bytes(data, path.name)


def _read_file(path: Path, name: str, budget: _Budget) -> bytes:
    try:
        # A pipe (`patchbot lint <(git format-patch --stdout ...)`) has no size to check
        # first: it is read with the cap like stdin.
        size = path.stat().st_size if path.is_file() else 0
        budget.take(name, size)
        with open(path, "rb") as fh:
            # Bounded even if the file grows under us or reports size 0 (/proc).
            data = read_capped(fh, size + budget.limit - budget.used + 1)
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror or exc}") from None
    if len(data) > size:
        budget.take(name, len(data) - size)
    return data


def read_capped(stream: BinaryIO, cap: int) -> bytes:
    """Read up to ``cap`` bytes in chunks (read(cap) would allocate ``cap`` up front)."""
    chunks: list[bytes] = []
    left = cap
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_directory(path: Path, budget: _Budget) -> list[RawMessage]:
    """git format-patch output: *.patch sorted; else every file that parses as mail."""
    entries = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    chosen = [p for p in entries if p.name.endswith(".patch")]
    if not chosen:
        chosen = entries
    out: list[RawMessage] = []
    for entry in chosen:
        data = _read_file(entry, str(entry), budget)
        if entry.name.endswith(".patch") or looks_like_message(data):
            out.extend(messages_from_bytes(data, entry.name))
        else:
            log.debug("skipping %s: not a mail message", entry)
    if not out:
        raise InputError(f"no patches found in {path}")
    return out


def messages_from_bytes(data: bytes, source: str) -> list[RawMessage]:
    """Split ``data`` into messages named ``source`` or ``source#N``."""
    chunks = split_mbox(data)
    many = len(chunks) > 1
    return [
        RawMessage(
            chunk,
            f"{source}#{k}" if many else source,
            unescape_mboxrd=_is_mboxrd(sep),
            separator=sep,
        )
        for k, (sep, chunk) in enumerate(chunks, 1)
    ]


def _is_mboxrd(separator: bytes) -> bool:
    """git format-patch output ("From <sha> Mon Sep 17 00:00:00 2001") does not escape
    body lines starting with "From "; every other mbox writer we meet is mboxrd-like."""
    return bool(separator) and not separator.endswith(GIT_FORMAT_PATCH_DATE)


def read_tree_images(series: Series, tree: str) -> None:
    """Fill series.pre_images from a kernel tree for the C files the series touches.

    When a diff's ``index`` line names a blob the tree's git objects hold, that blob is
    the pre-image, even if the tree's HEAD has moved on since the patch was made;
    otherwise the file as it is in the tree.  Only what the rules read is read: regular
    .c/.h files inside the tree (symlinks resolved; nothing under .git/), each at most
    MAX_SOURCE_BYTES, all together at most MAX_TREE_BYTES.  A patch naming ``.git/config``
    or a 20 MB generated header costs a warning, not a read (a 3.9 KB mail cost 18.6 s and
    1.15 GB)."""
    from patchbot.series.images import MAX_SOURCE_BYTES, MAX_TREE_BYTES, is_c_path

    root = Path(tree)
    if not root.is_dir():
        raise InputError(f"--tree {tree}: not a directory")
    real_root = root.resolve()
    used = 0
    created: set[str] = set()
    for patch in series.patches:
        for fd in patch.files:
            if fd.old_path is None and fd.new_path is not None:
                created.add(fd.new_path)
                continue
            path = fd.old_path
            if path is None or path in series.pre_images or path in created:
                continue
            if ".git" in Path(path).parts:
                patch.warnings.append(f"{path}: inside .git/; not read from the tree {tree}")
                continue
            if not is_c_path(path):
                continue  # the rules read C files only: nothing else is opened
            exact = git_blob(root, fd.old_blob) if fd.old_blob else None
            if exact is not None and len(exact) <= MAX_SOURCE_BYTES:
                used += len(exact)
                series.pre_images[path] = exact.decode("utf-8", "replace")
                continue
            full = root / path
            refused = _refused_tree_path(real_root, full)
            if refused == "missing":
                patch.warnings.append(f"{path} is not in the tree {tree}")
                continue
            if refused:
                patch.warnings.append(f"{path}: {refused}; not read from the tree {tree}")
                continue
            size = full.stat().st_size
            if size > MAX_SOURCE_BYTES or used + size > MAX_TREE_BYTES:
                limit = "per file" if size > MAX_SOURCE_BYTES else "for all tree files"
                patch.warnings.append(
                    f"{path} is {size} bytes, over the limit of "
                    f"{MAX_SOURCE_BYTES if size > MAX_SOURCE_BYTES else MAX_TREE_BYTES} "
                    f"bytes {limit}; not read from the tree, only the lines the diff shows "
                    "are linted"
                )
                continue
            used += size
            series.pre_images[path] = full.read_bytes().decode("utf-8", "replace")
    log.debug("read %d pre-images from %s", len(series.pre_images), os.fspath(root))


_BLOB_ID = re.compile(r"[0-9a-f]{7,64}")


def git_blob(root: Path, blob: str) -> bytes | None:
    """The blob ``blob`` (hex, possibly abbreviated) from the git repository at ``root``,
    or None if root is no repository or its objects do not hold exactly one such blob."""
    if not _BLOB_ID.fullmatch(blob) or not (root / ".git").exists():
        return None  # hex only: nothing git could read as an option or a revision range
    proc = subprocess.run(
        ["git", "-C", str(root), "cat-file", "blob", blob],
        capture_output=True,
        check=False,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(root.resolve().parent)},
    )
    return proc.stdout if proc.returncode == 0 else None


def _refused_tree_path(real_root: Path, full: Path) -> str | None:
    """Why ``full`` is not read as a source file of the tree (None: it is; "missing":
    there is no such file)."""
    try:
        resolved = full.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return "not a regular file"
    if real_root not in resolved.parents:
        return "outside the tree"
    if ".git" in resolved.relative_to(real_root).parts:
        return "inside .git/"
    if not resolved.is_file():
        return "missing" if not resolved.exists() else "not a regular file"
    return None
