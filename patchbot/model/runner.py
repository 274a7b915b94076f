"""Scenario runner: the whole matrix of a driver in one sandboxed child.

The compiled driver library is never loaded here.  run_matrix() and run_one() start one
``python -m patchbot.model.child`` under the sandbox (patchbot.sandbox: bubblewrap, no
network, nothing of HOME, rlimits, a wall clock), hand it the request as JSON, and read
back one JSON record per run, each checked against the schema in wire.py.  In the child
each run forks and loads the library after its seccomp filter is on (child.py).

For each (scenario, platform) the clean run counts the calls of every fault kind; then
one run per single fault ("fail the Nth call of kind K", including a partial conversion)
and per cheap pair of conversion faults follows (child.fault_plan).  A run goes on after
a violation and reports every distinct one it reaches (RunResult.violations).

One sandboxed child per driver, not one per run: starting bwrap and Python costs
~60 ms (measured: bench/model_bench.py), a run ~2-20 ms.

What the sandbox stops is a result, not an exception: a record that fails its check,
a child that dies or runs past its wall clock, or a full output pipe becomes a run with
a ``sandbox/...`` violation, and the matrix of the other drivers goes on.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import patchbot
from patchbot.model.bridge import Fault, Handler, Session
from patchbot.model.state import PageModel, Violation

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 5.0
# sandboxed children per matrix: the model runs are CPU bound, one per core
MATRIX_JOBS = max(1, min(4, len(os.sched_getaffinity(0))))
MATRIX_WALL = 900.0  # seconds for a whole matrix; today's longest takes ~10 s
PACKAGE_ROOT = Path(patchbot.__file__).resolve().parent


class DriverHarness(Protocol):
    """What a driver module registers in patchbot.model.drivers."""

    name: str  # "virtio-mem"
    source: str  # the driver file, relative to the tree
    shim: str  # patchbot/model/shim/<shim>/
    fault_kinds: dict[str, str]  # api -> fault kind

    def scenarios(self) -> list[str]: ...

    def setup(self, model: PageModel) -> dict[str, Handler]:
        """Register regions on the model; return the api handlers."""
        ...

    def run(self, session: Session, scenario: str) -> None:
        """Drive the loaded driver (session.lib) through one scenario."""
        ...


@dataclass
class RunResult:
    scenario: str
    platform: str
    fault: Fault | None
    violations: list[Violation] = field(default_factory=list)  # every distinct one, in order
    counts: dict[str, int] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0

    @property
    def violation(self) -> Violation | None:
        """The run's first violation."""
        return self.violations[0] if self.violations else None


@dataclass
class MatrixResult:
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def violations(self) -> list[RunResult]:
        return [r for r in self.runs if r.violation is not None]


# what the child imports: compiled once by the host into a read-only mirror
CHILD_PACKAGES = ("model", "sandbox")
CHILD_MODULES = ("__init__.py", "errors.py")


def child_library() -> Path:
    """A host-written mirror of the modules the child imports, as sourceless .pyc files.

    The child runs with -B and cannot write bytecode (the sandbox is read-only), and this
    environment sets PYTHONDONTWRITEBYTECODE: importing the model from source costs
    ~200 ms per child, from the mirror ~40 ms.  A .pyc is rewritten when its source's
    mtime differs; the mirror is keyed by the checkout, so two checkouts never share it.
    """
    import hashlib
    import os
    import py_compile

    from patchbot.kernel.tree import cache_dir

    key = hashlib.sha256(str(PACKAGE_ROOT).encode()).hexdigest()[:12]
    mirror = cache_dir() / "sandbox-lib" / f"{sys.implementation.cache_tag}-{key}"
    sources = [PACKAGE_ROOT / name for name in CHILD_MODULES]
    for package in CHILD_PACKAGES:
        sources += sorted((PACKAGE_ROOT / package).rglob("*.py"))
    for src in sources:
        dst = mirror / "patchbot" / src.relative_to(PACKAGE_ROOT).with_suffix(".pyc")
        mtime = src.stat().st_mtime_ns
        if dst.is_file() and dst.stat().st_mtime_ns == mtime:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        # per process and thread: two matrices (threads) may refresh the mirror at once
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{threading.get_ident()}")
        py_compile.compile(str(src), cfile=str(tmp), dfile=str(src), doraise=True)
        os.utime(tmp, ns=(mtime, mtime))
        os.replace(tmp, dst)
    return mirror


def child_command(library: Path) -> list[str]:
    """The Python that runs the child: the system interpreter, no site, no environment."""
    python = str(Path(sys.executable).resolve())
    code = (
        f"import sys; sys.path.insert(0, {str(library)!r}); "
        "from patchbot.model.child import main; sys.exit(main())"
    )
    return [python, "-S", "-E", "-B", "-c", code]


def _run_child(request: dict[str, object], so_path: Path, wall: float) -> MatrixResult:
    from patchbot import sandbox
    from patchbot.model.wire import BadRecord, run_from_json

    start = time.monotonic()
    platforms = list(request["platforms"])  # type: ignore[call-overload]
    scenarios = set(request["scenarios"])  # type: ignore[call-overload]
    library = child_library()
    result = sandbox.run(
        child_command(library),
        readable=[library, so_path.resolve()],
        cwd=Path("/tmp"),
        stdin=json.dumps(request).encode(),
        limits=sandbox.Limits(wall_seconds=wall, output_bytes=64 << 20),
    )
    matrix = MatrixResult()
    done = False
    where = "sandbox/bad-result", ""
    for line in result.stdout.splitlines():
        if line == b'{"done":true}':
            done = True
            break
        try:
            scenario, platform, fault, violations, counts, events, seconds = run_from_json(
                line, scenarios | {"load"}, set(platforms)
            )
        except BadRecord as exc:
            where = "sandbox/bad-result", f"the model child's output is not a run record: {exc}"
            break
        matrix.runs.append(
            RunResult(scenario, platform, fault, violations, counts, events, seconds)
        )
    if not done:
        stopped = result.violation()
        if stopped is not None:
            name, message = f"sandbox/{stopped[0]}", stopped[1]
        elif where[1]:
            name, message = where
        else:
            tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
            name = "sandbox/child-died"
            message = (
                f"the model child ended without finishing the matrix "
                f"(exit {result.returncode}{': ' + tail[0][:200] if tail else ''})"
            )
        matrix.runs.append(
            RunResult("load", ",".join(platforms), None, [Violation(name, message, 0)])
        )
    matrix.seconds = time.monotonic() - start
    return matrix


def _request(
    harness: DriverHarness, so_path: Path, platforms: list[str], scenarios: list[str], limit: float
) -> dict[str, object]:
    return {
        "driver": harness.name,
        "so": str(so_path.resolve()),
        "time_limit": limit,
        "platforms": platforms,
        "scenarios": scenarios,
        "jobs": None,
    }


def run_one(
    harness: DriverHarness,
    so_path: Path,
    platform: str,
    scenario: str,
    fault: Fault | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> RunResult:
    """One run (in its own sandboxed child)."""
    request = _request(harness, so_path, [platform], [scenario], time_limit)
    job: list[object] = [
        scenario,
        platform,
        fault.kind if fault else None,
        fault.nth if fault else 0,
    ]
    if fault is not None and fault.then is not None:
        job += [fault.then.kind, fault.then.nth]
    request["jobs"] = [job]
    matrix = _run_child(request, so_path, 3 * time_limit + 60)
    return matrix.runs[-1]


def run_matrix(
    harness: DriverHarness,
    so_path: Path,
    platforms: Iterable[str],
    scenarios: Iterable[str] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> MatrixResult:
    """Clean run, then one run per planned fault, for every scenario on every platform."""
    names = list(scenarios or harness.scenarios())
    shards = _shards(harness, names)
    if len(shards) == 1:
        return _run_child(
            _request(harness, so_path, list(platforms), names, time_limit), so_path, MATRIX_WALL
        )
    start = time.monotonic()
    child_library()  # refresh the mirror once, before the children read it
    with ThreadPoolExecutor(max_workers=len(shards)) as pool:
        parts = list(
            pool.map(
                lambda part: _run_child(
                    _request(harness, so_path, list(platforms), part, time_limit),
                    so_path,
                    MATRIX_WALL,
                ),
                shards,
            )
        )
    if all(any(run.scenario == "load" for run in part.runs) for part in parts):
        parts[0].seconds = time.monotonic() - start
        return parts[0]  # the library does not load: every child says so, report it once
    matrix = MatrixResult([run for part in parts for run in part.runs])
    matrix.seconds = time.monotonic() - start
    return matrix


def _shards(harness: DriverHarness, names: list[str]) -> list[list[str]]:
    """Split the scenarios over MATRIX_JOBS sandboxed children (the machine's cores).

    A harness with ``shard(scenario)`` keeps the scenarios of one key in one child (an
    explored sequence needs the counts of the shorter one it extends); otherwise
    round robin.  Order within a shard is kept (breadth first).
    """
    jobs = max(1, min(MATRIX_JOBS, len(names)))
    if jobs == 1:
        return [names]
    key = getattr(harness, "shard", None)
    groups: dict[object, list[str]] = {}
    for i, name in enumerate(names):
        groups.setdefault(key(name) if key is not None else i % jobs, []).append(name)
    shards: list[list[str]] = [[] for _ in range(jobs)]
    for group in sorted(groups.values(), key=len, reverse=True):  # biggest first
        min(shards, key=len).extend(group)
    return [shard for shard in shards if shard]
