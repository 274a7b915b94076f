"""Build the kernel in a workspace (patchbot.kernel.workspace): bzImage and checked objects.

There is one build path: the workspace's fixed worktree and O= directory.  A cold
build of tinyconfig + the fragment takes ~10 minutes on two cores; after that a
series that touches one file recompiles that file and relinks (~15 s).

`check_objects` compiles the objects a series touches once more with `W=1 C=1`
(extra gcc warnings, and sparse when it is installed): kbuild sees the changed
command line and recompiles just those objects; the next `make bzImage` compiles
them back with the normal flags.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from patchbot.errors import InputError
from patchbot.kernel.workspace import (
    Diagnostic,
    Workspace,
    checkout,
    configure,
    diagnostics,
    locked,
    make,
    resolve_base,
    sandbox_violation,
    workspace_for,
)

log = logging.getLogger(__name__)


@dataclass
class MakeResult:
    ok: bool
    seconds: float
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tail: str = ""  # the last lines of make's output, for an error without a gcc line
    compiled: list[str] = field(default_factory=list)  # the "  CC  path" lines
    sandbox: tuple[str, str] | None = None  # ("sandbox/<what>", message): the sandbox stopped make

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.kind == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.kind == "warning"]


def _judge(ws: Workspace, proc_out: str, returncode: int, seconds: float) -> MakeResult:
    lines = proc_out.splitlines()
    compiled = [ln.split()[-1] for ln in lines if ln.startswith("  CC ")]
    tail = "\n".join(lines[-15:])
    return MakeResult(
        returncode == 0,
        seconds,
        diagnostics(proc_out, ws.src),
        tail,
        compiled,
        sandbox_violation(proc_out),
    )


def build_image(ws: Workspace, jobs: int | None = None) -> MakeResult:
    start = time.monotonic()
    proc = make(ws, "bzImage", jobs=jobs)
    result = _judge(ws, proc.stdout + proc.stderr, proc.returncode, time.monotonic() - start)
    if result.ok and not ws.bzimage.is_file():
        result.ok = False
        result.tail = f"make finished without {ws.bzimage}"
    return result


def built_objects(ws: Workspace, paths: Sequence[str]) -> list[str]:
    """The .o targets for the .c files among ``paths`` that this configuration builds."""
    return [
        p[:-2] + ".o"
        for p in paths
        if p.endswith(".c") and (ws.obj / (p[:-2] + ".o")).is_file() and (ws.src / p).is_file()
    ]


def check_objects(ws: Workspace, objects: Sequence[str], jobs: int | None = None) -> MakeResult:
    """`make W=1 C=1 objects`: C=1 only when sparse is installed."""
    start = time.monotonic()
    if not objects:
        return MakeResult(True, 0.0)
    flags = ["W=1", *(["C=1"] if shutil.which("sparse") else [])]
    proc = make(ws, *flags, *objects, jobs=jobs)
    return _judge(ws, proc.stdout + proc.stderr, proc.returncode, time.monotonic() - start)


class KernelBuildError(InputError):
    """The kernel does not build; ``errors`` holds the compiler's error lines."""

    def __init__(self, message: str, errors: list[Diagnostic]):
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class KernelBuild:
    bzimage: Path
    workspace: Workspace
    make_seconds: float
    configured_now: bool

    @property
    def config(self) -> Path:
        return self.workspace.config


def build_tree(tree: Path, jobs: int | None = None) -> KernelBuild:
    """Build the tree's HEAD (no series) and copy the image out of the workspace.

    The copy (kernel/<id>/bzImage.head) lets a caller boot it after releasing the
    workspace lock, while another run rebuilds obj/.
    """
    ws = workspace_for(tree)
    with locked(ws):
        checkout(ws, resolve_base(ws, None))
        configured = configure(ws)
        result = build_image(ws, jobs)
        if not result.ok:
            first = [f"{d.path}:{d.line}: {d.message}" for d in result.errors[:3]]
            why = " | ".join(first) or (result.tail.splitlines() or ["make failed"])[-1]
            raise KernelBuildError(f"{tree}: the kernel does not build: {why}", result.errors)
        image = ws.root / "bzImage.head"
        shutil.copy2(ws.bzimage, image)
    log.info("kernel %s built in %.1f s", image, result.seconds)
    return KernelBuild(image, ws, result.seconds, configured)
