"""The C files rules see: per-patch pre/post images of the files a patch changes.

With whole files known (series.pre_images, from --tree or a git range) the series is
applied patch by patch, so patch N sees exactly the tree after patches 1..N-1.  Without
them, or when a hunk does not apply, images are rebuilt sparsely from the hunks: lines
the diff does not show are blank so line numbers match the real file.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from pathlib import Path

from patchbot.api import SourceFile
from patchbot.errors import InputError
from patchbot.series.apply import apply_hunks
from patchbot.series.model import FileDiff, Patch, Series

C_SUFFIXES = (".c", ".h")

# The largest C file lint reads whole (--file, --paths, a --tree pre-image), and all of a
# series' tree pre-images together.  The 6.1 tree has eight .c files over 1 MB (register
# and firmware tables, the largest 1.6 MB) and generated headers up to 24 MB; lint time
# is linear in the size (bench/lint_limits.py), about 2 s per MB.
MAX_SOURCE_BYTES = 2 << 20
MAX_TREE_BYTES = 32 << 20

# id(series) -> (weak reference, fingerprint, {(id(patch), file index): SourceFile})
_Exact = dict[tuple[int, int], SourceFile]
_CACHE: dict[int, tuple[weakref.ref[Series], tuple[int, int], _Exact]] = {}


def is_c_path(path: str | None) -> bool:
    return bool(path) and str(path).endswith(C_SUFFIXES)


def source_files(series: Series, patch: Patch) -> list[SourceFile]:
    """One SourceFile per changed C file of ``patch`` (deleted and binary files skipped)."""
    exact = _exact_images(series) if series.pre_images else {}
    out: list[SourceFile] = []
    for index, fd in enumerate(patch.files):
        if fd.is_binary or fd.new_path is None or not is_c_path(fd.new_path):
            continue
        known = exact.get((id(patch), index))
        out.append(known if known is not None else sparse_source(fd))
    return out


def sparse_source(fd: FileDiff) -> SourceFile:
    """Rebuild pre/post images from the hunks alone."""
    pre: dict[int, str] = {}
    post: dict[int, str] = {}
    added: list[int] = []  # fd.added_lines(), gathered in the same pass
    for hunk in fd.hunks:
        for ln in hunk.lines:
            old_no, new_no = ln.old_no, ln.new_no
            if old_no is not None:
                pre[old_no] = ln.text
            if new_no is not None:
                post[new_no] = ln.text
                if ln.kind == "+":
                    added.append(new_no)
    new_file = fd.old_path is None
    if not new_file:
        for hunk in fd.hunks:
            _close_comment_at_hunk_end(post, [ln.new_no for ln in hunk.lines])
            _close_comment_at_hunk_end(pre, [ln.old_no for ln in hunk.lines])
    return SourceFile(
        path=fd.path,
        text=_join_sparse(post),
        added=frozenset(added),
        complete=new_file,
        pre_text="" if new_file else _join_sparse(pre),
    )


# Comment delimiters and string literals on one line (approximate, as fragments.py's).
_COMMENT_LEXEME = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//.*|/\*|\*/')


def _close_comment_at_hunk_end(lines: dict[int, str], numbers: list[int | None]) -> None:
    """A hunk that ends inside a block comment (its context stops at ``/*`` and the first
    comment lines) would turn every later hunk of the rebuilt file into comment text:
    put a `` */`` on the blank line after the hunk, where the real file has more comment
    (the Hyper-V fix 03f5a999adba reversed: its vmbus_disconnect() hunk was never seen)."""
    shown = [n for n in numbers if n is not None]
    if not shown:
        return
    open_comment = False
    for number in range(min(shown), max(shown) + 1):
        for lexeme in _COMMENT_LEXEME.findall(lines.get(number, "")):
            if lexeme == "/*" and not open_comment:
                open_comment = True
            elif lexeme == "*/":
                open_comment = False
    after = max(shown) + 1
    if open_comment and after not in lines:
        lines[after] = " */"


def _join_sparse(lines: dict[int, str]) -> str:
    if not lines:
        return ""
    out = [""] * max(lines)
    for no, text in lines.items():
        out[no - 1] = text
    return "\n".join(out)


def _exact_images(series: Series) -> _Exact:
    fingerprint = (len(series.patches), len(series.pre_images))
    cached = _CACHE.get(id(series))
    if cached is not None and cached[0]() is series and cached[1] == fingerprint:
        return cached[2]
    result = _apply_series(series)
    key = id(series)
    _CACHE[key] = (weakref.ref(series, lambda _ref: _CACHE.pop(key, None)), fingerprint, result)
    return result


def _apply_series(series: Series) -> _Exact:
    """Apply every patch in order to the known pre-images."""
    state: dict[str, list[str]] = {
        path: text.split("\n") for path, text in series.pre_images.items()
    }
    result: _Exact = {}
    for patch in series.patches:
        for index, fd in enumerate(patch.files):
            if fd.is_binary:
                continue
            if fd.old_path is None:
                before: list[str] | None = [] if fd.new_path not in state else None
                if before is None:
                    patch.warnings.append(f"{fd.new_path} is created but already exists")
            else:
                before = state.get(fd.old_path)
            if before is None:
                continue  # not known: sparse reconstruction
            if fd.old_path is not None:
                state.pop(fd.old_path, None)
            if fd.new_path is None:
                continue  # deleted
            applied = apply_hunks(before, fd.hunks)
            if not applied.ok:
                patch.warnings.append(
                    f"{fd.new_path}: hunk {applied.failed_hunk} does not apply; "
                    "using the lines the diff shows"
                )
                patch.applicable = False
                continue  # later patches to this file fall back to sparse images too
            if applied.whitespace_fuzz:
                patch.warnings.append(
                    f"{fd.new_path}: applies only with whitespace ignored "
                    "(whitespace-mangled by the mailer?)"
                )
                patch.applicable = False
            elif applied.fuzz:
                patch.warnings.append(f"{fd.new_path}: applies with fuzz {applied.fuzz}")
            state[fd.new_path] = applied.lines
            if is_c_path(fd.new_path):
                result[(id(patch), index)] = SourceFile(
                    path=fd.new_path,
                    text="\n".join(applied.lines),
                    added=frozenset(applied.added),
                    complete=True,
                    pre_text="\n".join(before),
                )
    return result


def file_mode_sources(paths: Sequence[str], skipped: list[str] | None = None) -> list[SourceFile]:
    """``--file PATH.c``: the whole file, every line counts (added is empty).  A file
    over MAX_SOURCE_BYTES is skipped with a line in ``skipped``."""
    out: list[SourceFile] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise InputError(f"{name}: no such file")
        if _too_big(path, name, skipped):
            continue
        out.append(SourceFile(path=name, text=_read_text(path), complete=True))
    if not out:
        raise InputError("no files given" if not paths else "no file within the size limit")
    return out


def _too_big(path: Path, name: str, skipped: list[str] | None) -> bool:
    size = path.stat().st_size
    if size <= MAX_SOURCE_BYTES:
        return False
    if skipped is not None:
        skipped.append(f"{name}: {size} bytes, over the limit of {MAX_SOURCE_BYTES}; skipped")
    return True


def tree_sources(
    tree: str, paths: Sequence[str], skipped: list[str] | None = None
) -> list[SourceFile]:
    """Audit mode: every *.c under each of ``paths`` (relative to ``tree``); files over
    MAX_SOURCE_BYTES are skipped with a line in ``skipped``."""
    root = Path(tree)
    if not root.is_dir():
        raise InputError(f"--tree {tree}: not a directory")
    real_root = root.resolve()
    found: dict[str, Path] = {}
    for name in paths or ["."]:
        target = (root / name).resolve()
        if target != real_root and real_root not in target.parents:
            raise InputError(f"{name}: outside the tree {tree}")
        if target.is_dir():
            candidates = sorted(target.rglob("*.c"))
        elif target.is_file() and is_c_path(target.name):
            candidates = [target]
        else:
            raise InputError(f"{name}: no such directory or C file in {tree}")
        for file in candidates:
            if file.is_file():
                found.setdefault(file.relative_to(real_root).as_posix(), file)
    if not found:
        raise InputError(f"no C files under {', '.join(paths)} in {tree}")
    return [
        SourceFile(path=rel, text=_read_text(file))
        for rel, file in sorted(found.items())
        if not _too_big(file, rel, skipped)
    ]


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
