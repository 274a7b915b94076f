"""One kernel workspace per tree: a git worktree at a fixed path and its O= build dir.

Layout under ~/.cache/patchbot/kernel/<id>/ (id = hash of the tree's resolved path):

  src/    a `git worktree` of the tree, detached at the series base; the series is
          applied here with `git am`, never in the tree itself
  obj/    the out-of-tree build directory (make O=obj): tinyconfig + the bundled
          virtio-mem/dma-buf fragment + olddefconfig, configured once
  lock    one validation of this tree at a time

The paths never change between runs, so make's mtime checks (and objtool's recorded
absolute paths) stay valid: moving the worktree to a new base rewrites only the files
that differ, and only those objects recompile.  The default tree (Debian's
linux-source-6.1, extracted in the cache) is made a git repository once; a user tree
must already be one and is never written to (a worktree only adds to its .git).
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patchbot import sandbox
from patchbot.errors import InputError
from patchbot.kernel.tree import cache_dir, is_embedded

log = logging.getLogger(__name__)

FRAGMENT = Path(__file__).with_name("virtio-mem-dmabuf.config")
# The options the boot check depends on; a merge that silently dropped one (an unmet
# dependency) would make the boot "fail" for the wrong reason, so it is an error.
REQUIRED_OPTIONS = ("CONFIG_VIRTIO_MEM=y", "CONFIG_DMABUF_HEAPS_SYSTEM=y", "CONFIG_BUG=y")
_IDENT = ["-c", "user.name=patchbot", "-c", "user.email=patchbot@localhost"]


def check_kernel_tree(tree: Path) -> None:
    for needed in ("Makefile", "scripts/kconfig/merge_config.sh", "arch/x86/Kconfig"):
        if not (tree / needed).exists():
            raise InputError(f"{tree}: not an x86-capable kernel tree (no {needed})")


def git(
    repo: Path, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-C", str(repo), *_IDENT, *args], capture_output=True, text=True, input=input
    )
    if check and proc.returncode != 0:
        raise InputError(f"git {args[0]} in {repo} failed: {proc.stderr.strip()[-300:]}")
    return proc


def ensure_git(tree: Path) -> None:
    """Make the cached default tree a git repository (once, ~35 s); check any other."""
    if (tree / ".git").exists() and git(tree, "rev-parse", "HEAD", check=False).returncode == 0:
        return
    if not is_embedded(tree):
        raise InputError(
            f"{tree}: not a git repository with a commit (the kernel path applies a series "
            "with git am in a worktree; `git init && git add -A && git commit` it first)"
        )
    with open(cache_dir() / f".{tree.resolve().name}.git.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if git(tree, "rev-parse", "HEAD", check=False).returncode == 0:
            return
        log.info("making %s a git repository (once)", tree)
        git(tree, "init", "-q")
        git(tree, "add", "-f", "-A", ".")
        git(tree, "commit", "-q", "-m", f"{tree.resolve().name} as extracted by patchbot")


@dataclass(frozen=True)
class Workspace:
    tree: Path
    root: Path

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def obj(self) -> Path:
        return self.root / "obj"

    @property
    def bzimage(self) -> Path:
        return self.obj / "arch/x86/boot/bzImage"

    @property
    def config(self) -> Path:
        return self.obj / ".config"


def workspace_for(tree: Path) -> Workspace:
    tree = tree.resolve()
    check_kernel_tree(tree)
    ident = hashlib.sha256(str(tree).encode()).hexdigest()[:12]
    root = cache_dir() / "kernel" / ident
    root.mkdir(parents=True, exist_ok=True)
    return Workspace(tree, root)


@contextmanager
def locked(ws: Workspace) -> Iterator[Workspace]:
    """Hold the workspace: a second validation of the same tree waits here."""
    with open(ws.root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        restore_base(ws)  # an earlier run was killed while a series had obj/
        yield ws


def resolve_base(ws: Workspace, base: str | None) -> str:
    """The commit to apply on: the series' base-commit (must exist in the tree) or HEAD."""
    ensure_git(ws.tree)
    ref = base or "HEAD"
    # the base comes from a series (base-commit:): never let git read it as an option
    proc = git(
        ws.tree,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{ref}^{{commit}}",
        check=False,
    )
    if proc.returncode != 0:
        raise InputError(f"base-commit {base} is not a commit in {ws.tree}")
    return proc.stdout.strip()


def checkout(ws: Workspace, commit: str) -> None:
    """Put the worktree at ``commit``, clean; git rewrites only files that differ."""
    if not (ws.src / ".git").exists():
        git(ws.tree, "worktree", "prune")
        git(ws.tree, "worktree", "add", "-q", "--detach", str(ws.src), commit)
        return
    if (Path(git(ws.src, "rev-parse", "--git-dir").stdout.strip()) / "rebase-apply").exists():
        git(ws.src, "am", "--abort", check=False)  # an interrupted earlier run
    git(ws.src, "checkout", "-q", "--detach", "--force", commit)
    git(ws.src, "clean", "-q", "-fdx")


# A warm series build takes ~15-60 s, a cold one ~10-20 min on two cores; cc1 and ld
# stay under 1 GiB.  Root is not held to RLIMIT_NPROC: the wall clock and the pid
# namespace bound a fork bomb in a Makefile.
KERNEL_LIMITS = sandbox.Limits(
    wall_seconds=3600, cpu_seconds=3600, address_space=8 << 30, output_bytes=256 << 20
)


def sandboxed(
    ws: Workspace, cmd: list[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in the sandbox: the worktree read-only, only obj/ writable.

    A command the sandbox had to stop (wall clock, output cap, an rlimit) fails, with
    the sandbox's reason as the last line of its stderr ("sandbox/<what>: ...").
    """
    log.debug("$ %s", " ".join(cmd))
    ws.obj.mkdir(exist_ok=True)
    result = sandbox.run(
        cmd,
        readable=[ws.src, FRAGMENT],
        writable=[ws.obj],
        cwd=cwd or ws.src,
        env={"KBUILD_BUILD_USER": "patchbot", "KBUILD_BUILD_HOST": "sandbox"},
        limits=KERNEL_LIMITS,
    )
    stderr = result.stderr.decode(errors="replace")
    stopped = result.violation()
    if stopped is not None:
        stderr += f"\n{SANDBOX_MARK}{stopped[0]}: {stopped[1]}\n"
    returncode = result.returncode if stopped is None else (result.returncode or 1)
    return subprocess.CompletedProcess(
        cmd, returncode, result.stdout.decode(errors="replace"), stderr
    )


SANDBOX_MARK = "sandbox/"


def sandbox_violation(output: str) -> tuple[str, str] | None:
    """("sandbox/<what>", message) from the last line sandboxed() added, if any."""
    for line in reversed(output.splitlines()):
        if line.startswith(SANDBOX_MARK):
            rule, _, message = line.partition(": ")
            return rule, message
    return None


def make(ws: Workspace, *targets: str, jobs: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run make O=obj in the worktree, in the sandbox; the caller judges the output."""
    cmd = ["make", f"O={ws.obj}", "ARCH=x86_64", f"-j{jobs or os.cpu_count() or 1}", *targets]
    return sandboxed(ws, cmd)


def configure(ws: Workspace) -> bool:
    """tinyconfig + fragment + olddefconfig, once per workspace; True when it ran now."""
    if ws.config.is_file():
        return False
    ws.obj.mkdir(exist_ok=True)
    # merge_config.sh writes its temporary files into its working directory: obj/
    merge = ["sh", str(ws.src / "scripts/kconfig/merge_config.sh"), "-m", "-O", str(ws.obj)]
    steps = [
        (["make", "-s", f"O={ws.obj}", "ARCH=x86_64", "tinyconfig"], ws.src),
        ([*merge, str(ws.config), str(FRAGMENT)], ws.obj),
        (["make", "-s", f"O={ws.obj}", "ARCH=x86_64", "olddefconfig"], ws.src),
    ]
    for cmd, cwd in steps:
        proc = sandboxed(ws, cmd, cwd)
        if proc.returncode != 0:
            ws.config.unlink(missing_ok=True)
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
            raise InputError(f"kernel config step {cmd[-1]} failed: {' '.join(tail)}")
    lines = ws.config.read_text().splitlines()
    missing = [opt for opt in REQUIRED_OPTIONS if opt not in lines]
    if missing:
        ws.config.rename(ws.obj / ".config.rejected")  # configure again next time
        raise InputError(
            f"{ws.tree}: the merged .config lacks {', '.join(missing)} "
            "(unmet Kconfig dependency in this tree?)"
        )
    return True


@contextmanager
def series_obj(ws: Workspace) -> Iterator[float]:
    """A fresh obj/ for one series: a copy of the base build, thrown away afterwards.

    A series' Makefiles run in the sandbox with obj/ writable, so whatever it leaves
    there (a planted fixdep, an object, a .cmd file) must never reach the next series.
    The base build stays in obj.base/ (built only from the base, never from a patch);
    the series builds in a `cp -a` copy at the same path (make's mtimes and objtool's
    absolute paths stay valid).  Yields the seconds the copy took.
    """
    restore_base(ws)
    base = ws.root / "obj.base"
    start = time.monotonic()
    os.rename(ws.obj, base)
    try:
        subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(ws.obj)], check=True)
        seconds = time.monotonic() - start
        log.info("fresh obj/ for the series in %.1f s", seconds)
        yield seconds
    finally:
        restore_base(ws)


def restore_base(ws: Workspace) -> None:
    """Put the base build back (also after an interrupted run)."""
    base = ws.root / "obj.base"
    if base.is_dir():
        shutil.rmtree(ws.obj, ignore_errors=True)
        os.rename(base, ws.obj)


_GCC_DIAG = re.compile(
    r"^(?:\.\./)*(?P<path>[\w./+-]+\.[chS]):(?P<line>\d+):(?:(?P<col>\d+):)? "
    r"(?P<kind>(?:fatal )?error|warning): (?P<msg>.*)$",
    re.M,
)


@dataclass(frozen=True)
class Diagnostic:
    """A gcc or sparse message, with the path relative to the tree root."""

    path: str
    line: int
    kind: str  # "error" or "warning"
    message: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies it across a patch: line numbers move, the text does not."""
        return (self.path, self.kind, self.message)


def diagnostics(output: str, src: Path) -> list[Diagnostic]:
    seen, found = set(), []
    for m in _GCC_DIAG.finditer(output):
        path = m["path"]
        if path.startswith(str(src) + "/"):
            path = path[len(str(src)) + 1 :]
        kind = "error" if "error" in m["kind"] else "warning"
        diag = Diagnostic(path, int(m["line"]), kind, m["msg"].strip())
        if diag not in seen:
            seen.add(diag)
            found.append(diag)
    return found
