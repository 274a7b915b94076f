"""Run results as bounded, validated JSON: what crosses out of a sandboxed model run.

The driver library runs in the same processes that produce these records, so nothing
read back is trusted: every record is size-capped, parsed as JSON (never pickle) and
checked field by field against the schema below before it becomes a RunResult.  A record
that fails the check is not an exception: it is the ``sandbox/bad-result`` finding of
that run.

  run    {"scenario": str, "platform": str,
          "fault": null | [kind, nth] | [kind, nth, kind2, nth2],
          "violations": [violation] (at most MAX_VIOLATIONS), "counts": {kind: int},
          "events": int, "seconds": float}
  violation {"name": str, "message": str, "pfn": int, "event": null | event,
             "trace": [event], "trace_dropped": int}
  event  {"seq": int, "api": str, "func": str, "line": int, "args": [int],
          "injected": bool, "result": int, "note": str}
"""

from __future__ import annotations

import json
import re
from typing import Any

from patchbot.model.bridge import Event, Fault
from patchbot.model.state import Violation

MAX_RECORD = 256 * 1024  # one run's record; a 24-event trace needs ~6 KiB, 16 of them ~100 KiB
MAX_VIOLATIONS = 16  # per run (bridge.MAX_VIOLATIONS keeps no more)
MAX_TEXT = 2000
MAX_TRACE = 64
MAX_KINDS = 64
_NAME = re.compile(r"^[a-z0-9][a-z0-9/-]{0,63}$")


class BadRecord(ValueError):
    """A record that is not what the schema says."""


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise BadRecord(f"{what} is not a string of at most {limit} characters")
    return value


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 1 << 64:
        raise BadRecord(f"{what} is not a 64-bit integer")
    return value


def _dict(value: Any, what: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise BadRecord(f"{what} is not an object with exactly {sorted(keys)}")
    return value


def event_to_json(ev: Event) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "api": ev.api,
        "func": ev.func,
        "line": ev.line,
        "args": [int(a) for a in ev.args][:4],
        "injected": ev.injected,
        "result": int(ev.result or 0),
        "note": ev.note,
    }


def event_from_json(raw: Any) -> Event:
    d = _dict(raw, "event", {"seq", "api", "func", "line", "args", "injected", "result", "note"})
    args = d["args"]
    if not isinstance(args, list) or len(args) > 4:
        raise BadRecord("event args is not a list of at most 4 integers")
    if not isinstance(d["injected"], bool):
        raise BadRecord("event injected is not a boolean")
    return Event(
        _int(d["seq"], "event seq"),
        _text(d["api"], "event api", 200),
        _text(d["func"], "event func", 200),
        _int(d["line"], "event line"),
        tuple(_int(a, "event arg") for a in args),
        d["injected"],
        _int(d["result"], "event result"),
        _text(d["note"], "event note", 200),
    )


def violation_to_json(v: Violation) -> dict[str, Any]:
    return {
        "name": v.name,
        "message": v.message,
        "pfn": int(v.pfn),
        "event": event_to_json(v.event) if isinstance(v.event, Event) else None,
        "trace": [event_to_json(e) for e in v.trace if isinstance(e, Event)][-MAX_TRACE:],
        "trace_dropped": int(v.trace_dropped),
    }


def violation_from_json(raw: Any) -> Violation:
    d = _dict(raw, "violation", {"name", "message", "pfn", "event", "trace", "trace_dropped"})
    name = _text(d["name"], "violation name", 64)
    if not _NAME.match(name):
        raise BadRecord(f"violation name {name!r} is not a rule id")
    trace = d["trace"]
    if not isinstance(trace, list) or len(trace) > MAX_TRACE:
        raise BadRecord(f"violation trace is not a list of at most {MAX_TRACE} events")
    return Violation(
        name,
        _text(d["message"], "violation message"),
        _int(d["pfn"], "violation pfn"),
        None if d["event"] is None else event_from_json(d["event"]),
        [event_from_json(e) for e in trace],
        trace_dropped=_int(d["trace_dropped"], "violation trace_dropped"),
    )


def _violations_to_json(violations: list[Violation]) -> list[dict[str, Any]]:
    return [violation_to_json(v) for v in violations[:MAX_VIOLATIONS]]


def _violations_from_json(raw: Any) -> list[Violation]:
    if not isinstance(raw, list) or len(raw) > MAX_VIOLATIONS:
        raise BadRecord(f"violations is not a list of at most {MAX_VIOLATIONS}")
    return [violation_from_json(v) for v in raw]


def payload_to_json(violations: list[Violation], counts: dict[str, int], events: int) -> bytes:
    """What one forked run sends its sandboxed parent."""
    record = {"violations": _violations_to_json(violations), "counts": counts, "events": events}
    return json.dumps(record, separators=(",", ":")).encode()


def payload_from_json(data: bytes) -> tuple[list[Violation], dict[str, int], int]:
    d = _dict(_load(data), "run payload", {"violations", "counts", "events"})
    violations = _violations_from_json(d["violations"])
    return violations, _counts(d["counts"]), _int(d["events"], "events")


def _counts(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict) or len(raw) > MAX_KINDS:
        raise BadRecord(f"counts is not an object of at most {MAX_KINDS} kinds")
    out = {}
    for kind, n in raw.items():
        if not _NAME.match(kind):
            raise BadRecord(f"fault kind {kind!r} is not a name")
        out[kind] = _int(n, "count")
        if not 0 <= out[kind] <= 1_000_000:
            raise BadRecord("count out of range")
    return out


def _load(data: bytes) -> Any:
    if len(data) > MAX_RECORD:
        raise BadRecord(f"record of {len(data)} bytes is over the {MAX_RECORD} byte cap")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRecord(f"not JSON ({exc})") from None


def fault_to_json(fault: Fault | None) -> list[Any] | None:
    if fault is None:
        return None
    pair = [] if fault.then is None else [fault.then.kind, fault.then.nth]
    return [fault.kind, fault.nth, *pair]


def fault_from_json(raw: Any) -> Fault | None:
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) in (2, 4)):
        raise BadRecord("fault is not [kind, nth] or [kind, nth, kind2, nth2]")
    faults = []
    for kind, nth in zip(raw[::2], raw[1::2], strict=True):
        if not isinstance(kind, str) or not _NAME.match(kind):
            raise BadRecord("fault kind is not a name")
        if not 1 <= _int(nth, "fault nth") <= 1_000_000:
            raise BadRecord("fault nth out of range")
        faults.append((kind, nth))
    then = Fault(*faults[1]) if len(faults) == 2 else None
    return Fault(faults[0][0], faults[0][1], then)


def run_to_json(
    scenario: str,
    platform: str,
    fault: Fault | None,
    violations: list[Violation],
    counts: dict[str, int],
    events: int,
    seconds: float,
) -> bytes:
    record = {
        "scenario": scenario,
        "platform": platform,
        "fault": fault_to_json(fault),
        "violations": _violations_to_json(violations),
        "counts": counts,
        "events": events,
        "seconds": round(seconds, 6),
    }
    return json.dumps(record, separators=(",", ":")).encode()


def run_from_json(
    line: bytes, scenarios: set[str], platforms: set[str]
) -> tuple[str, str, Fault | None, list[Violation], dict[str, int], int, float]:
    """One line of the model child's output, checked against what was asked for."""
    d = _dict(
        _load(line),
        "run",
        {"scenario", "platform", "fault", "violations", "counts", "events", "seconds"},
    )
    scenario, platform = d["scenario"], d["platform"]
    if scenario not in scenarios or platform not in platforms:
        raise BadRecord(f"run of {scenario!r} on {platform!r} was not asked for")
    fault = fault_from_json(d["fault"])
    violation = _violations_from_json(d["violations"])
    seconds = d["seconds"]
    if not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e6:
        raise BadRecord("seconds out of range")
    return (
        scenario,
        platform,
        fault,
        violation,
        _counts(d["counts"]),
        _int(d["events"], "events"),
        float(seconds),
    )
