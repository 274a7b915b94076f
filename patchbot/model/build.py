"""Compile a real driver file against the shim into a shared object the model can load.

Include order: patchbot/model/shim/<driver>/, then shim/common/, then the tree's UAPI
headers (include/uapi, for struct layouts such as struct virtio_mem_req).  Nothing from
the tree except those UAPI headers and the driver file itself is used.

A driver that no longer compiles is a *result*, not a crash: :class:`BuildFailure` names
the symbols the shim would need (parsed from gcc's diagnostics).  Builds are cached by a
hash of every input under cache_dir()/model-builds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from patchbot import sandbox
from patchbot.kernel.tree import cache_dir

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent
SHIM_DIR = MODEL_DIR / "shim"
CSRC_DIR = MODEL_DIR / "csrc"

# -Werror on the diagnostics that mean "the shim lacks something": we want the symbol
# name, never a silently miscompiled driver.
CFLAGS = [
    "-std=gnu11",
    "-O1",
    "-g",
    "-fPIC",
    "-shared",
    "-fno-strict-aliasing",
    "-fno-common",
    "-w",
    "-Werror=implicit-function-declaration",
    "-Werror=implicit-int",
    "-Werror=incompatible-pointer-types",
    "-Werror=int-conversion",
    "-D__KERNEL__",
    "-DPATCHBOT_MODEL",
    "-Wl,-z,defs",
]
# a 10 k-line driver and the shim compile in ~1.5 s with ~150 MiB
GCC_LIMITS = sandbox.Limits(wall_seconds=120, cpu_seconds=120, output_bytes=4 << 20)

# gcc quotes names with typographic quotes in UTF-8 locales, plain ones in C
Q = "[\u2018\u2019'`]"
_MISSING_PATTERNS = [
    re.compile(rf"implicit declaration of function {Q}(\w+){Q}"),
    re.compile(rf"{Q}(\w+){Q} undeclared"),
    re.compile(rf"undefined reference to {Q}(\w+){Q}"),
    re.compile(rf"unknown type name {Q}(\w+){Q}"),
    re.compile(rf"storage size of {Q}\w+{Q} isn{Q}t known.*"),
    re.compile(rf"invalid use of undefined type {Q}(?:struct )?(\w+){Q}"),
    re.compile(rf"has no member named {Q}(\w+){Q}"),
    re.compile(r"(\S+\.h): No such file or directory"),
]


@dataclass
class BuildResult:
    so_path: Path
    seconds: float
    cached: bool


@dataclass
class BuildFailure:
    """The patched driver does not compile against the shim."""

    source: str  # driver path relative to the tree
    missing: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)  # "path:line: error: ..." lines
    first_line: int = 0
    sandbox: str = ""  # "sandbox/<what>" when the sandbox stopped gcc

    def message(self) -> str:
        if self.missing:
            names = ", ".join(self.missing)
            return (
                f"{self.source} no longer builds against the model shim: the shim needs "
                f"{names} (add it under patchbot/model/shim/)"
            )
        first = self.diagnostics[0] if self.diagnostics else "gcc failed"
        if self.sandbox:
            return f"{self.source}: building it against the model shim was stopped: {first}"
        return f"{self.source} no longer builds against the model shim: {first}"


def shim_dirs(shim_name: str) -> list[Path]:
    """Include directories for a driver: its own shim first, then the common one."""
    if shim_name == "common":
        return [SHIM_DIR / "common"]
    return [SHIM_DIR / shim_name, SHIM_DIR / "common"]


def shim_sources(shim_name: str) -> list[Path]:
    """C files compiled next to the driver: the bridge, common shim code, driver shim code."""
    files = sorted(CSRC_DIR.glob("*.c"))
    for d in shim_dirs(shim_name)[::-1]:
        files += sorted(d.glob("*.c"))
    return files


def parse_diagnostics(stderr: str, driver_name: str) -> tuple[list[str], list[str], int]:
    """(missing symbols, error lines, first driver line with an error) from gcc output."""
    missing: list[str] = []
    errors: list[str] = []
    first_line = 0
    for line in stderr.splitlines():
        if "error" not in line and "undefined reference" not in line and "multiple def" not in line:
            continue
        errors.append(line.strip())
        m_loc = re.match(r"(\S+?):(\d+):\d+: (?:fatal )?error", line)
        if m_loc and not first_line and m_loc.group(1).endswith(driver_name):
            first_line = int(m_loc.group(2))
        for pat in _MISSING_PATTERNS:
            m = pat.search(line)
            if m and m.groups():
                name = m.group(1)
                if name not in missing:
                    missing.append(name)
                break
    return missing, errors, first_line


def check_syntax(
    driver_file: Path, tree: Path, shim_name: str, extra_includes: list[Path]
) -> list[str]:
    """gcc -fsyntax-only on the driver alone (~10x faster than a build): its error lines.
    Without -w, so an implicit declaration is an error here and not a link error later.
    It reads patch content (an #include can name any file), so it runs in the sandbox."""
    flags = [f for f in CFLAGS if f not in ("-w", "-shared", "-Wl,-z,defs", "-g")]
    includes = [*shim_dirs(shim_name), *extra_includes, tree / "include" / "uapi"]
    cmd = ["gcc", "-fsyntax-only", *flags, *(f"-I{d}" for d in includes), str(driver_file)]
    with tempfile.TemporaryDirectory() as work:
        proc = sandbox.run(
            cmd,
            readable=[driver_file, *includes],
            writable=[Path(work)],
            cwd=Path(work),
            limits=GCC_LIMITS,
        )
    stopped = proc.violation()
    if stopped is not None:
        return [f"sandbox/{stopped[0]}: {stopped[1]}"]
    stderr = proc.stderr.decode(errors="replace")
    return [ln.strip() for ln in stderr.splitlines() if re.search(r": (fatal )?error: ", ln)]


def _digest(paths: list[Path], extra: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p).encode())
        h.update(p.read_bytes())
    h.update("\0".join(extra).encode())
    return h.hexdigest()[:24]


def build_driver(
    driver_file: Path,
    tree: Path,
    shim_name: str,
    rel_source: str,
    extra_includes: tuple[Path, ...] | list[Path] = (),
) -> BuildResult | BuildFailure:
    """Compile ``driver_file`` (the possibly patched copy of ``rel_source`` in ``tree``).
    ``extra_includes`` (the tree-derived headers of patchbot.model.treeshim) come after
    the hand-written shim and before the tree's UAPI headers."""
    sources = [driver_file, *shim_sources(shim_name)]
    uapi = tree / "include" / "uapi"
    header_dirs = [*shim_dirs(shim_name), *extra_includes]
    includes = [*header_dirs, uapi]
    flags = [*CFLAGS, *(f"-I{d}" for d in includes)]
    digest = _digest(
        sources + [p for d in header_dirs for p in sorted(d.rglob("*.h"))],
        [*flags, str(uapi)],
    )
    out_dir = cache_dir() / "model-builds"
    out_dir.mkdir(parents=True, exist_ok=True)
    so_path = out_dir / f"{shim_name}-{digest}.so"
    if so_path.exists():
        return BuildResult(so_path, 0.0, cached=True)
    start = time.monotonic()
    # gcc runs in the sandbox: it sees the sources and includes read-only and writes only
    # a fresh directory, from which the library moves into the cache
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        tmp = str(Path(work) / so_path.name)
        cmd = ["gcc", *flags, "-o", tmp, *map(str, sources)]
        log.debug("building %s: %s", rel_source, " ".join(cmd))
        proc = sandbox.run(
            cmd,
            readable=[*sources, *includes],
            writable=[Path(work)],
            cwd=Path(work),
            limits=GCC_LIMITS,
        )
        stderr = proc.stderr.decode(errors="replace")
        stopped = proc.violation()
        if stopped is not None:
            return BuildFailure(rel_source, [], [stopped[1]], 0, sandbox=f"sandbox/{stopped[0]}")
        if proc.returncode != 0:
            missing, errors, first = parse_diagnostics(stderr, driver_file.name)
            return BuildFailure(rel_source, missing, errors or [stderr.strip()[:500]], first)
        os.replace(tmp, so_path)  # atomic: parallel builders never see half a file
    return BuildResult(so_path, time.monotonic() - start, cached=False)
