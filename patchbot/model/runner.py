"""Scenario runner: fork per run, a time limit per run, every single fault in turn.

The shared object is loaded once in the parent (never run there); each run forks, so the
driver's static state starts fresh and a driver that loops forever is killed at the time
limit.  The child streams its last events into a shared memory ring, so a hang or a
crash is still reported with the events that led to it.  Results come back over a pipe.

For each (scenario, platform) the clean run counts the calls of every fault kind; then
one run per single fault ("fail the Nth call of kind K") follows.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from patchbot.model.bridge import Event, Fault, Handler, Session
from patchbot.model.state import PLATFORMS, PageModel, Violation

log = logging.getLogger(__name__)

RING_SLOTS = 16
SLOT_BYTES = 160
DEFAULT_TIME_LIMIT = 5.0


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
    violation: Violation | None
    counts: dict[str, int] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0


@dataclass
class MatrixResult:
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def violations(self) -> list[RunResult]:
        return [r for r in self.runs if r.violation is not None]


_LIBS: dict[Path, ctypes.CDLL] = {}


def load(so_path: Path) -> ctypes.CDLL:
    if so_path not in _LIBS:
        _LIBS[so_path] = ctypes.CDLL(str(so_path))
    return _LIBS[so_path]


def _ring_write(ring: mmap.mmap, ev: Event) -> None:
    slot = ev.seq % RING_SLOTS
    text = f"{ev.func}\t{ev.line}\t{ev.api}\t{int(ev.injected)}".encode()[: SLOT_BYTES - 2]
    off = 8 + slot * SLOT_BYTES
    ring[off : off + 2] = struct.pack("<H", len(text))
    ring[off + 2 : off + 2 + len(text)] = text
    ring[0:8] = struct.pack("<Q", ev.seq + 1)


def _ring_read(ring: mmap.mmap) -> list[Event]:
    (total,) = struct.unpack("<Q", ring[0:8])
    events = []
    for seq in range(max(0, total - RING_SLOTS), total):
        off = 8 + (seq % RING_SLOTS) * SLOT_BYTES
        (n,) = struct.unpack("<H", ring[off : off + 2])
        func, line, api, inj = ring[off + 2 : off + 2 + n].decode().split("\t")
        events.append(Event(seq, api, func, int(line), (), injected=inj == "1"))
    return events


def run_one(
    harness: DriverHarness,
    so_path: Path,
    platform: str,
    scenario: str,
    fault: Fault | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> RunResult:
    lib = load(so_path)
    ring = mmap.mmap(-1, 8 + RING_SLOTS * SLOT_BYTES)
    rfd, wfd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(rfd)
        _child(harness, lib, platform, scenario, fault, ring, wfd)
    os.close(wfd)
    data = b""
    deadline = start + time_limit
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([rfd], [], [], left)
        if not ready:
            continue
        chunk = os.read(rfd, 1 << 16)
        if not chunk:
            break
        data += chunk
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(rfd)
    result = RunResult(scenario, platform, fault, None, seconds=time.monotonic() - start)
    if timed_out:
        last = _ring_read(ring)
        where = last[-1].describe() if last else "before the first event"
        result.violation = Violation(
            "hang",
            f"the run did not finish within {time_limit:g} s; last event: {where}",
            0,
            last[-1] if last else None,
            last,
        )
    elif not data:
        last = _ring_read(ring)
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        why = f"signal {signal.Signals(sig).name}" if sig else f"exit {os.WEXITSTATUS(status)}"
        result.violation = Violation(
            "crash", f"the driver crashed ({why})", 0, last[-1] if last else None, last
        )
    else:
        payload = pickle.loads(data)
        result.violation = payload["violation"]
        result.counts = payload["counts"]
        result.events = payload["events"]
    ring.close()
    return result


def _child(
    harness: DriverHarness,
    lib: ctypes.CDLL,
    platform: str,
    scenario: str,
    fault: Fault | None,
    ring: mmap.mmap,
    wfd: int,
) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        model = PageModel(PLATFORMS[platform])
        session = Session(model, {}, harness.fault_kinds, fault)
        session.handlers = harness.setup(model)
        session.on_event = lambda ev: _ring_write(ring, ev)

        def finish(s: Session) -> None:
            if s.unimplemented and s.violation is None:
                ev = s.events[-1]
                s.record(
                    Violation(
                        "shim-unimplemented",
                        f"{s.unimplemented}() is called but the model shim only "
                        "has a stub for it: the shim needs it",
                        0,
                    ),
                    ev,
                )
            payload = {"violation": s.violation, "counts": s.counts, "events": len(s.events)}
            os.write(wfd, pickle.dumps(payload))
            os._exit(0)

        session.on_violation = finish
        session.attach(lib)
        harness.run(session, scenario)
        finish(session)
    except BaseException:  # report through the crash path with the ring's events
        log.exception("model run failed")
        code = 3
    os._exit(code)


def run_matrix(
    harness: DriverHarness,
    so_path: Path,
    platforms: Iterable[str],
    scenarios: Iterable[str] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> MatrixResult:
    """Clean run, then one run per single fault, for every scenario on every platform."""
    start = time.monotonic()
    matrix = MatrixResult()
    for scenario in scenarios or harness.scenarios():
        for platform in platforms:
            clean = run_one(harness, so_path, platform, scenario, None, time_limit)
            matrix.runs.append(clean)
            for kind, count in sorted(clean.counts.items()):
                for nth in range(1, count + 1):
                    matrix.runs.append(
                        run_one(harness, so_path, platform, scenario, Fault(kind, nth), time_limit)
                    )
    matrix.seconds = time.monotonic() - start
    return matrix
