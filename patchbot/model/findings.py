"""Turn model run results into patchbot.api.Finding objects (the schema `lint` uses)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Finding, Location, Severity
from patchbot.model.bridge import Event
from patchbot.model.runner import RunResult
from patchbot.model.state import PLATFORMS, Violation

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
    hidden; its message names each platform's own term (see merged_message).  Without
    it there is one finding per (violation, line, platform).
    """
    funcs = driver_functions(source_text)
    by_key: dict[tuple[str, int, str | None], Finding] = {}
    messages: dict[tuple[str, int, str | None], dict[str, str]] = {}  # platform -> message
    scenarios: dict[tuple[str, int, str | None], str] = {}
    for run in sorted(results, key=reproducer_rank):
        for v in run.violations:
            _add(by_key, messages, scenarios, run, v, path, funcs, dedupe)
    for key, finding in by_key.items():
        if len(messages[key]) > 1:
            finding.message = f"[{scenarios[key]}] {merged_message(messages[key])}"
    return list(by_key.values())


def _add(
    by_key: dict[tuple[str, int, str | None], Finding],
    messages: dict[tuple[str, int, str | None], dict[str, str]],
    scenarios: dict[tuple[str, int, str | None], str],
    run: RunResult,
    v: Violation,
    path: str,
    funcs: set[str],
    dedupe: bool,
) -> None:
    trace = [_location(ev, path, funcs) for ev in v.trace if isinstance(ev, Event)]
    if v.trace_dropped:  # the bridge keeps the last TRACE_LEN events: say so
        kept = len(v.trace)
        note = f"... {v.trace_dropped} earlier events (the trace keeps the last {kept})"
        trace.insert(0, Location("<model>", 0, note=note))
    driver_locs = [loc for loc in trace if loc.path == path]
    anchor = driver_locs[-1] if driver_locs else None
    line = anchor.line if anchor else 1
    key = (v.name, line, None if dedupe else run.platform)
    messages.setdefault(key, {}).setdefault(run.platform, v.message)
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
    scenarios[key] = run.scenario


def merged_message(by_platform: dict[str, str]) -> str:
    """One message for a violation seen on several platforms.  The model words its
    messages in each platform's terms (TDG.MEM.PAGE.ACCEPT on tdx, PVALIDATE on snp);
    where they differ only there, the term becomes the list of both, else each
    platform's message is given."""
    texts = set(by_platform.values())
    if len(texts) == 1:
        return texts.pop()
    terms = {p: PLATFORMS[p].accept_name if p in PLATFORMS else p for p in by_platform}
    hole = "\0"
    templates = {m.replace(terms[p], hole) for p, m in by_platform.items()}
    if len(templates) == 1:
        template = templates.pop()
        if hole in template:
            both = ", ".join(f"{terms[p]} on {p}" for p in by_platform)
            return template.replace(hole, both)
    return "; ".join(f"{p}: {m}" for p, m in by_platform.items())
