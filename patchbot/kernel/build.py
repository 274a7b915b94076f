"""Build a real x86_64 bzImage from a kernel tree, cached per (tree, series).

The kernel is configured as `make tinyconfig`, merged with the virtio-mem/dma-buf
fragment (virtio-mem-dmabuf.config next to this file) by the tree's own
scripts/kconfig/merge_config.sh, then `make olddefconfig` and `make bzImage`.
Everything is written under ~/.cache/patchbot/kbuild/<key>/ (key = tree identity +
series) with `make O=...`, so the source tree is never written to.  The build runs in a
hard-link copy of the tree; a series is applied to that copy (patch(1) replaces the
files it touches, so the cached tree stays pristine).

Measured on the 2-core build machine: a cold tinyconfig build takes 5-10 minutes
(depending on load); a series build starts from a copy of the unpatched objects and
takes seconds; a call with a cached key only re-runs make (~4 s no-op).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patchbot.errors import InputError
from patchbot.kernel.tree import cache_dir

log = logging.getLogger(__name__)

FRAGMENT = Path(__file__).with_name("virtio-mem-dmabuf.config")
# The options the boot check depends on; a merge that silently dropped one (an unmet
# dependency) would make the boot "fail" for the wrong reason, so it is an error.
REQUIRED_OPTIONS = ("CONFIG_VIRTIO_MEM=y", "CONFIG_DMABUF_HEAPS_SYSTEM=y", "CONFIG_BUG=y")


class KernelBuildError(InputError):
    """make failed; ``errors`` holds the compiler's ``path:line:col: error:`` lines."""

    def __init__(self, message: str, log_path: Path, errors: list[str]):
        super().__init__(message)
        self.log_path = log_path
        self.errors = errors


_GCC_ERROR = re.compile(
    r"^(?:\.\./)?([\w./+-]+\.[chS]):(\d+):(?:\d+:)? (?:fatal )?error: .*$", re.M
)


@dataclass(frozen=True)
class KernelBuild:
    """A finished build: the image and how long each step took (0 when cached).

    ``bzimage`` and ``config`` stay in place; ``build_dir`` and ``source_dir`` are moved to
    kbuild/active while another build of the same key runs, so read them right away.
    """

    bzimage: Path
    build_dir: Path
    source_dir: Path
    config_seconds: float
    make_seconds: float
    config: Path  # the .config used, kept next to bzimage


def tree_identity(tree: Path) -> str:
    """A string that changes when the tree's content plausibly changed.

    Every tree is named by its path, its Makefile version lines, its file count and
    newest file mtime; a git tree also by its HEAD commit and the diff of tracked
    files.  This decides which cache directory (and tree copy) a build uses.
    """
    tree = tree.resolve()
    parts = [str(tree)]
    if (tree / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        diff = subprocess.run(
            ["git", "-C", str(tree), "diff", "HEAD"], capture_output=True, text=True
        )
        parts += [head.stdout.strip(), hashlib.sha256(diff.stdout.encode()).hexdigest()]
    makefile = tree / "Makefile"
    if makefile.is_file():
        head_lines = makefile.read_text(errors="replace").splitlines()[:6]
        parts += head_lines
    # the build runs in a hard-link copy made once per key: an edit that replaced a
    # file (new inode) must give a new key, so the file count and newest mtime count
    # too (~0.5 s for 80k files)
    count, newest = 0, 0
    for root, dirs, files in os.walk(tree):
        if ".git" in dirs:
            dirs.remove(".git")
        for name in files:
            count += 1
            newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime_ns)
    parts.append(f"{count} files, newest {newest}")
    return "\n".join(parts)


def build_key(tree: Path, patches: Sequence[str]) -> str:
    digest = hashlib.sha256(b"layout 2\0" + tree_identity(tree).encode())
    digest.update(FRAGMENT.read_bytes())
    for text in patches:
        digest.update(b"\0patch\0" + text.encode())
    return digest.hexdigest()[:16]


def _check_tree(tree: Path) -> None:
    for needed in ("Makefile", "scripts/kconfig/merge_config.sh", "arch/x86/Kconfig"):
        if not (tree / needed).exists():
            raise InputError(f"{tree}: not an x86-capable kernel tree (no {needed})")


def _run(cmd: list[str], cwd: Path, log_path: Path, what: str) -> float:
    start = time.monotonic()
    with open(log_path, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        text = log_path.read_text(errors="replace")
        errors = [m.group(0) for m in _GCC_ERROR.finditer(text)]
        tail = errors[:3] or text.splitlines()[-15:]
        raise KernelBuildError(
            f"kernel {what} failed (exit {proc.returncode}), see {log_path}: "
            + " | ".join(line.strip() for line in tail if line.strip())[-400:],
            log_path,
            errors,
        )
    return time.monotonic() - start


def _patched_files(patch_text: str) -> list[str]:
    names = []
    for line in patch_text.splitlines():
        if line.startswith("+++ ") and not line.startswith("+++ /dev/null"):
            name = line[4:].split("\t")[0].strip()
            names.append(name[2:] if name.startswith("b/") else name)
    return names


def scratch_source(tree: Path, dest: Path, patches: Sequence[tuple[str, str]]) -> Path:
    """Hard-link copy of `tree` at `dest` with `patches` ((name, diff text)) applied.

    make writes only below O=, and patch(1) gets a private copy of each file it touches,
    so nothing here can write through a link into the cached tree.
    """
    if (dest / ".patchbot-applied").exists():
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # cp -al costs seconds for 70k files; falls back to a real copy across filesystems
    linked = subprocess.run(["cp", "-al", str(tree), str(tmp)], capture_output=True)
    if linked.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["cp", "-a", str(tree), str(tmp)], check=True)
    for name, text in patches:
        for rel in _patched_files(text):
            target = tmp / rel
            if target.is_file():  # break the hard link: patching must not reach the tree
                data = target.read_bytes()
                target.unlink()
                target.write_bytes(data)
        proc = subprocess.run(
            ["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch"],
            cwd=tmp,
            input=text,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            first = (proc.stdout + proc.stderr).strip().splitlines()
            raise InputError(
                f"{name}: does not apply to {tree}: {first[-1] if first else 'patch failed'}"
            )
    (tmp / ".patchbot-applied").write_text("\n".join(name for name, _ in patches) + "\n")
    tmp.rename(dest)
    return dest


def build_kernel(
    tree: Path, patches: Sequence[tuple[str, str]] = (), jobs: int | None = None
) -> KernelBuild:
    """Configure and build bzImage for `tree` (+ `patches`), reusing cached builds.

    Layout: kbuild/<key>/src is a hard-link copy of the tree with its O= directory in
    src/obj.  make always runs with that directory renamed to one fixed place,
    kbuild/active, because the objtool build records absolute paths (and every object
    depends on objtool): at one path, an object directory copied from another build
    stays valid.  So a series build starts from a copy of the unpatched build's objects
    and make recompiles only what the series changed (seconds, not the ~10 minutes of
    a cold build).  One kernel build runs at a time (a lock on kbuild/active).
    """
    tree = tree.resolve()
    _check_tree(tree)
    kbuild = cache_dir() / "kbuild"
    key = build_key(tree, [text for _, text in patches])
    root = kbuild / key
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "build.log"
    jobs = jobs or os.cpu_count() or 1
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs never prepare one key at once
        # apply first: a series that does not apply fails before any long build
        try:
            scratch_source(tree, root / "src", patches)
        except InputError:
            shutil.rmtree(root, ignore_errors=True)  # nothing worth caching
            raise
        if patches and not (root / "src" / "obj").exists():
            base = build_kernel(tree, (), jobs)
            # a real copy, not links: make rewrites objects in place; under the base's
            # lock, as a concurrent build of the base moves its tree away meanwhile
            with open(base.source_dir.parent / ".lock", "w") as base_lock:
                fcntl.flock(base_lock, fcntl.LOCK_EX)
                subprocess.run(["cp", "-a", str(base.build_dir), str(root / "src/obj")], check=True)
            # make goes by mtime: the patched files must be newer than the copied objects
            # even when the copy was patched before the unpatched build last ran
            now = time.time()
            for _, text in patches:
                for rel in _patched_files(text):
                    if (root / "src" / rel).is_file():
                        os.utime(root / "src" / rel, (now, now))
        with open(kbuild / ".active.lock", "w") as active_lock:
            fcntl.flock(active_lock, fcntl.LOCK_EX)
            active = _activate(kbuild, key)
            try:
                obj = active / "obj"
                obj.mkdir(exist_ok=True)
                configured = (obj / ".config").exists()
                config_seconds = 0.0 if configured else _configure(active, obj, log_path)
                make = ["make", "O=obj", "ARCH=x86_64", f"-j{jobs}", "bzImage"]
                make_seconds = _run(make, active, log_path, "build")
                built = obj / "arch/x86/boot/bzImage"
                if not built.is_file():
                    raise InputError(f"kernel build finished without {built}, see {log_path}")
                # the image QEMU boots lives outside src/, which a concurrent build of
                # this key moves to kbuild/active for a while; rename keeps it atomic
                for src, name in ((built, "bzImage"), (obj / ".config", "config")):
                    shutil.copy2(src, root / f"{name}.tmp")
                    (root / f"{name}.tmp").rename(root / name)
            finally:
                active.rename(root / "src")
    source = root / "src"
    bzimage = root / "bzImage"
    log.info("kernel %s built in %.1f s (config %.1f s)", bzimage, make_seconds, config_seconds)
    return KernelBuild(
        bzimage, source / "obj", source, config_seconds, make_seconds, root / "config"
    )


def _activate(kbuild: Path, key: str) -> Path:
    """Move kbuild/<key>/src to kbuild/active (the caller holds .active.lock)."""
    active = kbuild / "active"
    if active.exists():  # left behind by an interrupted build: give it back
        stamp = active / ".patchbot-key"
        owner = stamp.read_text().strip() if stamp.is_file() else ""
        if owner and (kbuild / owner).is_dir() and not (kbuild / owner / "src").exists():
            active.rename(kbuild / owner / "src")
        else:
            shutil.rmtree(active)
    (kbuild / key / "src").rename(active)
    (active / ".patchbot-key").write_text(key + "\n")
    return active


def _configure(source: Path, obj: Path, log_path: Path) -> float:
    """tinyconfig + the fragment + olddefconfig in ``obj``; checks the options we need."""
    make = ["make", "-s", "O=obj", "ARCH=x86_64"]
    config = obj / ".config"
    seconds = _run([*make, "tinyconfig"], source, log_path, "tinyconfig")
    merge = ["sh", "scripts/kconfig/merge_config.sh", "-m", "-O", "obj", "obj/.config"]
    seconds += _run([*merge, str(FRAGMENT)], source, log_path, "merge_config")
    seconds += _run([*make, "olddefconfig"], source, log_path, "olddefconfig")
    lines = config.read_text().splitlines()
    missing = [opt for opt in REQUIRED_OPTIONS if opt not in lines]
    if missing:
        config.rename(obj / ".config.rejected")  # configure again next time
        raise InputError(
            f"{source}: the merged .config lacks {', '.join(missing)} "
            "(unmet Kconfig dependency in this tree?)"
        )
    return seconds
