"""The model's sandboxed child: ``python -m patchbot.model.child`` under bubblewrap.

It is the only process that loads a compiled driver library.  It reads one JSON request
on stdin (driver, library, platforms, scenarios, time limit, and either the whole matrix
or a list of runs), runs it, and writes one JSON record per run on stdout (schema in
patchbot/model/wire.py), then ``{"done":true}``.

Each run forks (the driver's static state starts fresh; a driver that loops forever is
killed at the time limit), and only the forked child loads the library, after:
  * stdin is /dev/null, stdout/stderr a pipe that is counted and dropped (past 1 MiB
    the run is killed), every other fd but its result pipe is closed (a driver's printf
    never reaches the result channel),
  * its address space and CPU time are limited,
  * the PROCESS seccomp stage is on (no exec, fork, sockets, ptrace...); the FILES stage
    follows once the library is loaded.
The child streams its last events into a shared memory ring, so a hang or a crash is
still reported with the events that led to it; its result comes back as JSON over a
pipe.  This parent is not dumpable, so a run cannot ptrace it or write its memory.

A load probe (fork, load, exit) comes first: a library whose constructors hang, crash
or make a forbidden call is reported once, as a run of scenario "load", and nothing
else runs.
"""

from __future__ import annotations

import ctypes
import json
import logging
import mmap
import os
import resource
import select
import signal
import struct
import sys
import time
from typing import Any

from patchbot.model import drivers
from patchbot.model.bridge import FATAL, Event, Fault, Session
from patchbot.model.runner import DriverHarness
from patchbot.model.state import PLATFORMS, PageModel, Violation
from patchbot.model.wire import (
    MAX_RECORD,
    BadRecord,
    payload_from_json,
    payload_to_json,
    run_to_json,
)
from patchbot.sandbox import seccomp

RING_SLOTS = 16
SLOT_BYTES = 160
RUN_OUTPUT = 1 << 20  # what a run may print (to nowhere) before it is killed
RUN_ADDRESS_SPACE = 1 << 30  # per run: the model machine needs ~60 MiB
PR_SET_DUMPABLE = 4
LOAD = "load"  # the scenario name of the load probe's record

_SIGNALS = {
    signal.SIGSYS: (
        "sandbox/forbidden-syscall",
        "the driver made a system call the model's seccomp filter forbids "
        "(exec, fork, a socket, ptrace, or file access) and was killed",
    ),
    signal.SIGXCPU: ("sandbox/cpu-limit", "the driver used up its CPU-time limit"),
    signal.SIGXFSZ: ("sandbox/file-size-limit", "the driver wrote past the file-size limit"),
}


def _ring_write(ring: mmap.mmap, ev: Event) -> None:
    slot = ev.seq % RING_SLOTS
    text = f"{ev.func}\t{ev.line}\t{ev.api}\t{int(ev.injected)}".encode()[: SLOT_BYTES - 2]
    off = 8 + slot * SLOT_BYTES
    ring[off : off + 2] = struct.pack("<H", len(text))
    ring[off + 2 : off + 2 + len(text)] = text
    ring[0:8] = struct.pack("<Q", ev.seq + 1)


def _ring_read(ring: mmap.mmap) -> list[Event]:
    """The last events a run wrote; a garbled slot (the driver wrote there) is skipped."""
    (total,) = struct.unpack("<Q", ring[0:8])
    events = []
    for seq in range(max(0, total - RING_SLOTS), total):
        off = 8 + (seq % RING_SLOTS) * SLOT_BYTES
        (n,) = struct.unpack("<H", ring[off : off + 2])
        parts = ring[off + 2 : off + 2 + min(n, SLOT_BYTES - 2)].decode(errors="replace")
        fields = parts.split("\t")
        if len(fields) != 4 or not fields[1].isdigit():
            continue
        func, line, api, inj = fields
        events.append(Event(seq, api, func, int(line), (), injected=inj == "1"))
    return events


def fork_run(
    harness: DriverHarness,
    so_path: str,
    platform: str,
    scenario: str | None,
    fault: Fault | None,
    time_limit: float,
) -> tuple[list[Violation], dict[str, int], int]:
    """One run in a forked child (``scenario`` None: only load the library)."""
    ring = mmap.mmap(-1, 8 + RING_SLOTS * SLOT_BYTES)
    rfd, wfd = os.pipe()
    ofd, owfd = os.pipe()  # the run's stdout and stderr: counted, capped, dropped
    pid = os.fork()
    if pid == 0:  # never returns
        os.close(rfd)
        os.close(ofd)
        _child(harness, so_path, platform, scenario, fault, ring, wfd, owfd, time_limit)
    os.close(wfd)
    os.close(owfd)
    data, timed_out, oversized, chatty = _read(rfd, ofd, time.monotonic() + time_limit)
    if timed_out or oversized or chatty:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(rfd)
    os.close(ofd)
    last = _ring_read(ring)
    ring.close()
    where = last[-1].describe() if last else "before the first event"
    at = last[-1] if last else None
    stage = "while loading the driver library (in a constructor)" if scenario is None else ""
    if timed_out:
        name = "sandbox/timeout" if scenario is None else "hang"
        why = f"the run did not finish within {time_limit:g} s {stage}".rstrip()
        return [Violation(name, f"{why}; last event: {where}", 0, at, last)], {}, 0
    if oversized:
        why = f"the run wrote more than {MAX_RECORD} bytes to its result channel"
        return [Violation("sandbox/oversized-result", why, 0, at, last)], {}, 0
    if chatty:
        why = f"the driver printed more than {RUN_OUTPUT >> 20} MiB; the sandbox killed the run"
        return (
            [Violation("sandbox/output-limit", f"{why}; last event: {where}", 0, at, last)],
            {},
            0,
        )
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    if sig in _SIGNALS:
        name, why = _SIGNALS[signal.Signals(sig)]
        why = f"{why} {stage}".rstrip()
        return [Violation(name, f"{why}; last event: {where}", 0, at, last)], {}, 0
    if not data:
        why = f"signal {signal.Signals(sig).name}" if sig else f"exit {os.WEXITSTATUS(status)}"
        return (
            [Violation("crash", f"the driver crashed ({why}) {stage}".rstrip(), 0, at, last)],
            {},
            0,
        )
    try:
        return payload_from_json(data)
    except BadRecord as exc:
        why = f"the run wrote something other than its result to the result channel: {exc}"
        return [Violation("sandbox/bad-result", why, 0, at, last)], {}, 0


def _read(rfd: int, ofd: int, deadline: float) -> tuple[bytes, bool, bool, bool]:
    """(result, timed out, result too big, printed too much) of one run."""
    chunks: list[bytes] = []
    size = printed = 0
    open_fds = [rfd, ofd]
    while rfd in open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), True, False, False
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
            elif fd == ofd:
                printed += len(chunk)
                if printed > RUN_OUTPUT:
                    return b"", False, False, True
            else:
                size += len(chunk)
                if size > MAX_RECORD:
                    return b"", False, True, False
                chunks.append(chunk)
    return b"".join(chunks), False, False, False


def _child(
    harness: DriverHarness,
    so_path: str,
    platform: str,
    scenario: str | None,
    fault: Fault | None,
    ring: mmap.mmap,
    wfd: int,
    owfd: int,
    time_limit: float,
) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(owfd, 1)
        os.dup2(owfd, 2)
        os.closerange(3, wfd)  # only the result pipe stays (close_range: fast)
        os.closerange(wfd + 1, 1 << 16)
        resource.setrlimit(resource.RLIMIT_AS, (RUN_ADDRESS_SPACE, RUN_ADDRESS_SPACE))
        cpu = int(time_limit) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        seccomp.install(seccomp.PROCESS)
        lib = ctypes.CDLL(so_path)  # the library's constructors run here
        if scenario is None:
            os.write(wfd, payload_to_json([], {}, 0))
            os._exit(0)
        model = PageModel(PLATFORMS[platform])
        session = Session(model, {}, harness.fault_kinds, fault)
        session.handlers = harness.setup(model)
        session.on_event = lambda ev: _ring_write(ring, ev)

        def finish(s: Session) -> None:
            if s.unimplemented and not any(v.name in FATAL for v in s.violations):
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
            os.write(wfd, payload_to_json(s.violations, s.counts, len(s.events)))
            os._exit(0)

        session.on_violation = finish
        session.attach(lib)
        seccomp.install(seccomp.FILES)
        harness.run(session, scenario)
        finish(session)
    except BaseException:  # reported through the crash path with the ring's events
        code = 3
    os._exit(code)


def _emit(out: int, record: bytes) -> None:
    os.write(out, record + b"\n")


PAIR_LIMIT = 4  # pairs of conversion faults when a run makes at most this many calls (6 pairs)


def fault_plan(
    harness: DriverHarness,
    scenario: str,
    counts: dict[str, int],
    before: dict[str, int] | None = None,
) -> list[Fault]:
    """Every call of every fault kind the run made, then pairs of conversion faults.

    A harness may narrow the kinds for a scenario (``fault_kinds_for``): explored
    sequences get the conversion faults only, the fixed lifecycle scripts every kind.
    ``before``: the counts of the sequence this one extends (``fault_base``); only the
    calls after those are failed, because the earlier ones were failed in that shorter
    sequence already.  Pairs (fail call i, then call j too) only for conversions, and
    only when at most PAIR_LIMIT of them are candidates: an undo that fails after the
    step it undoes failed.
    """
    narrow = getattr(harness, "fault_kinds_for", None)
    kinds = narrow(scenario) if narrow is not None else None
    base = before or {}
    plan = [
        Fault(kind, nth)
        for kind, count in sorted(counts.items())
        if kinds is None or kind in kinds
        for nth in range(base.get(kind, 0) + 1, count + 1)
    ]
    first, last = base.get("conversion", 0) + 1, counts.get("conversion", 0)
    pairs = getattr(harness, "pairs_for", None)
    cheap = 2 <= last - first + 1 <= PAIR_LIMIT and (pairs is None or pairs(scenario))
    if (kinds is None or "conversion" in kinds) and cheap:
        for i in range(first, last + 1):
            for j in range(i + 1, last + 1):
                plan.append(Fault("conversion", i, Fault("conversion", j)))
    return plan


def serve(request: dict[str, Any], out: int) -> None:
    harness = drivers.get(request["driver"])
    so_path, limit = request["so"], float(request["time_limit"])
    platforms, scenarios = request["platforms"], request["scenarios"]
    violations, _, _ = fork_run(harness, so_path, platforms[0], None, None, limit)
    if violations:
        _emit(out, run_to_json(LOAD, platforms[0], None, violations, {}, 0, 0.0))
        return
    jobs = request.get("jobs")
    if jobs is not None:
        for scenario, platform, kind, nth, *then in jobs:
            fault = None
            if kind:
                fault = Fault(kind, nth, Fault(then[0], then[1]) if then else None)
            t0 = time.monotonic()
            v, counts, events = fork_run(harness, so_path, platform, scenario, fault, limit)
            _emit(
                out,
                run_to_json(scenario, platform, fault, v, counts, events, time.monotonic() - t0),
            )
        return
    base_of = getattr(harness, "fault_base", None)
    clean_counts: dict[tuple[str, str], dict[str, int]] = {}
    for scenario in scenarios:
        for platform in platforms:
            t0 = time.monotonic()
            v, counts, events = fork_run(harness, so_path, platform, scenario, None, limit)
            clean_counts[scenario, platform] = counts
            _emit(
                out, run_to_json(scenario, platform, None, v, counts, events, time.monotonic() - t0)
            )
            base = base_of(scenario) if base_of is not None else None
            before = clean_counts.get((base, platform)) if base is not None else None
            for fault in fault_plan(harness, scenario, counts, before):
                t0 = time.monotonic()
                v, c, e = fork_run(harness, so_path, platform, scenario, fault, limit)
                _emit(out, run_to_json(scenario, platform, fault, v, c, e, time.monotonic() - t0))


def main() -> int:
    logging.disable(logging.CRITICAL)  # no traceback formatting (file reads) in the runs
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # the runs cannot ptrace or read our memory
    request = json.loads(sys.stdin.buffer.read(1 << 20))
    out = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # only `out` carries records; stray prints go nowhere
    serve(request, out)
    os.write(out, b'{"done":true}\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
