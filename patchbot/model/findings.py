"""Turn model run results into patchbot.api.Finding objects (the schema `lint` uses)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Finding, Location, Severity
from patchbot.model.bridge import Event
from patchbot.model.runner import RunResult
from patchbot.model.state import Violation

_FUNC_DEF = re.compile(
    r"^(?:static\s+|inline\s+|const\s+|unsigned\s+|enum\s+\w+\s+|struct\s+\w+\s+|"
    r"\w+\s+)*\**\s*(\w+)\((?![^)]*;\s*$)",
    re.M,
)


def driver_functions(source_text: str) -> set[str]:
    """Names of functions defined in the driver file (to tell driver lines from shim lines)."""
    return {m.group(1) for m in _FUNC_DEF.finditer(source_text)}


def _location(ev: object, path: str, funcs: set[str]) -> Location:
    assert isinstance(ev, Event)
    inside = ev.func in funcs
    note = ev.api + (f" ({ev.note})" if ev.note else "")
    if ev.injected:
        note += " fails (injected)"
    return Location(
        path if inside else f"<model>/{ev.func}",
        ev.line if inside else 0,
        function=ev.func,
        note=note,
    )


def reproducer_rank(run: RunResult) -> tuple[int, int]:
    """Order runs so the first that shows a violation is its simplest reproducer:
    no fault before one fault before a pair, then fewer steps (an explored sequence
    "mode:a,b,c" has its steps; a fixed script counts as long)."""
    faults = 0 if run.fault is None else (1 if run.fault.then is None else 2)
    _, sep, steps = run.scenario.partition(":")
    return faults, (steps.count(",") + 1 if sep else 100)


def to_findings(
    results: Iterable[RunResult], path: str, source_text: str, dedupe: bool = True
) -> list[Finding]:
    """One Finding per violation, placed at the last driver line of its trace.

    With ``dedupe`` the same (violation, driver line) found on several runs is reported
    once, with the trace and fault of its simplest run (reproducer_rank) and
    ``platform`` listing every platform it occurred on ("tdx,snp"), so nothing is
    hidden.  Without it there is one finding per (violation, line, platform).
    """
    funcs = driver_functions(source_text)
    by_key: dict[tuple[str, int, str | None], Finding] = {}
    for run in sorted(results, key=reproducer_rank):
        for v in run.violations:
            _add(by_key, run, v, path, funcs, dedupe)
    return list(by_key.values())


def _add(
    by_key: dict[tuple[str, int, str | None], Finding],
    run: RunResult,
    v: Violation,
    path: str,
    funcs: set[str],
    dedupe: bool,
) -> None:
    trace = [_location(ev, path, funcs) for ev in v.trace if isinstance(ev, Event)]
    driver_locs = [loc for loc in trace if loc.path == path]
    anchor = driver_locs[-1] if driver_locs else None
    line = anchor.line if anchor else 1
    key = (v.name, line, None if dedupe else run.platform)
    seen = by_key.get(key)
    if seen is not None:
        platforms = (seen.platform or "").split(",")
        if run.platform not in platforms:
            seen.platform = ",".join([*platforms, run.platform])
        return
    by_key[key] = Finding(
        rule=v.name,
        severity=Severity.ERROR,
        message=f"[{run.scenario}] {v.message}",
        path=path,
        line=line,
        function=anchor.function if anchor else None,
        trace=trace,
        platform=run.platform,
        fault=run.fault.describe() if run.fault else "none",
    )
