"""The Python half of the C<->Python bridge: event recording and fault injection.

The shim calls ``pb_event(api, func, line, a0, a1, a2, a3)`` for every wrapped API call
(see shim/common/pb_bridge.h).  A :class:`Session` receives it through one ctypes
callback, records an :class:`Event` (api, driver function, driver line, args), decides
whether this call is the one the fault schedule fails ("fail the Nth call of kind K"),
and dispatches it to the handler the driver harness registered for that api.  The
handler's return value goes back to C.

A broken invariant is recorded with the trace and the run goes on: the page model
collects its violations (PageModel.collect) and quarantines the pages involved, and a
handler's ``ViolationError`` is recorded the same way.  So one run reports every
distinct violation it reaches, not only the first one (issue 19: every fault run used to
die at the same early double accept before reaching its fault).  Violations are kept
once per (name, driver function, line) and at most MAX_VIOLATIONS per run.  Only what a
run cannot go on from (a hang, a deadlock, BUG(), a model bug, a stub the shim lacks)
ends it, from inside the callback (``on_violation``): an exception cannot cross the
ctypes boundary.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from patchbot.model.state import PageModel, Violation, ViolationError

log = logging.getLogger(__name__)

HANDLER_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_long,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_int,
    ctypes.c_long,
    ctypes.c_long,
    ctypes.c_long,
    ctypes.c_long,
)

TRACE_LEN = 24  # events kept in a violation's trace
MAX_VIOLATIONS = 16  # distinct violations kept per run (bounds the JSON record, wire.py)
# violations after which the driver cannot go on: the run ends there
FATAL = frozenset({"hang", "deadlock", "bug", "bad-pfn", "model-error", "driver-bug"})

# Calls every driver shim wraps the same way; each harness adds its own kinds on top.
SLAB_ALLOCATIONS = ("kmalloc", "kzalloc", "kcalloc", "kmalloc_array", "vmalloc", "vzalloc")
COMMON_FAULT_KINDS: dict[str, str] = {
    "set_memory_encrypted": "conversion",
    "set_memory_decrypted": "conversion",
}
# a second fault kind on the same calls: the conversion fails after converting the first
# half of its range (only calls of two pages or more count)
PARTIAL = "partial-conversion"
PARTIAL_OF = {
    "set_memory_encrypted": PARTIAL,
    "set_memory_decrypted": PARTIAL,
}
_SLAB_KINDS: dict[str, str] = {
    **dict.fromkeys(SLAB_ALLOCATIONS, "allocation"),
}
COMMON_FAULT_KINDS.update(_SLAB_KINDS)


@dataclass
class Event:
    seq: int
    api: str
    func: str  # driver (or shim) function that made the call
    line: int  # line in that function's source file
    args: tuple[int, ...]
    injected: bool = False  # the fault schedule failed this call
    result: int = 0
    note: str = ""
    partial: bool = False  # ... after converting half of its range (not on the wire)

    def describe(self) -> str:
        fault = " [injected failure]" if self.injected else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.func}:{self.line}: {self.api}{note}{fault}"


@dataclass(frozen=True)
class Fault:
    """Fail the Nth (1-based) call of kind ``kind`` (and, with ``then``, also the
    ``then.nth`` call of ``then.kind``: a pair of faults)."""

    kind: str
    nth: int
    then: Fault | None = None

    def describe(self) -> str:
        first = f"{self.kind}#{self.nth}"
        return first if self.then is None else f"{first}+{self.then.describe()}"

    def hits(self, kind: str, n: int) -> bool:
        if self.kind == kind and self.nth == n:
            return True
        return self.then is not None and self.then.hits(kind, n)


Handler = Callable[["Session", Event], int]


@dataclass
class Session:
    """One run: one platform, one scenario, at most one injected fault."""

    model: PageModel
    handlers: Mapping[str, Handler]
    fault_kinds: Mapping[str, str]  # api -> fault kind ("conversion", "request", ...)
    fault: Fault | None = None
    on_violation: Callable[[Session], None] | None = None
    on_event: Callable[[Event], None] | None = None
    events: list[Event] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    unimplemented: str | None = None
    lib: ctypes.CDLL | None = None
    ended: bool = False
    _cb: object = None
    _seen: set[tuple[str, str, int]] = field(default_factory=set)

    @property
    def violation(self) -> Violation | None:
        """The first violation of the run (None: clean so far)."""
        return self.violations[0] if self.violations else None

    def attach(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        self.model.collect = True
        self._cb = HANDLER_TYPE(self._dispatch)
        lib.pb_set_handler(self._cb)

    # -- the callback ----------------------------------------------------------------
    def _dispatch(
        self, api_b: bytes, func_b: bytes, line: int, a0: int, a1: int, a2: int, a3: int
    ) -> int:
        api = api_b.decode()
        ev = Event(
            len(self.events), api, func_b.decode() if func_b else "?", line, (a0, a1, a2, a3)
        )
        self.events.append(ev)
        if api == "__unimplemented":
            self.unimplemented = ctypes.cast(a0, ctypes.c_char_p).value.decode()  # type: ignore[union-attr]
            ev.note = self.unimplemented
            if self.on_event:
                self.on_event(ev)
            self._end()
            return 0
        kind = self.fault_kinds.get(api)
        if kind is not None:
            n = self.counts.get(kind, 0) + 1
            self.counts[kind] = n
            ev.injected = self.fault is not None and self.fault.hits(kind, n)
            partial = PARTIAL_OF.get(api)
            if partial is not None and a1 >= 2:  # args: pfn, number of pages
                n = self.counts.get(partial, 0) + 1
                self.counts[partial] = n
                if self.fault is not None and self.fault.hits(partial, n):
                    ev.injected = ev.partial = True
                    ev.note = "converts half of its range, then fails"
        if self.on_event:
            self.on_event(ev)
        handler = self.handlers.get(api)
        try:
            ev.result = handler(self, ev) if handler else 0
        except ViolationError as exc:
            self.record(exc.violation, ev)
        except Exception as exc:  # a model bug must not look like a clean run
            log.exception("model handler for %s failed", api)
            self.record(Violation("model-error", f"model handler for {api} failed: {exc}", 0), ev)
        self._drain(ev)
        return ev.result

    def _drain(self, ev: Event) -> None:
        """Record what the page model collected during ``ev``; end the run if fatal."""
        pending, self.model.pending = self.model.pending, []
        for violation in pending:
            self.record(violation, ev)
        if not self.ended and any(v.name in FATAL for v in self.violations):
            self.ended = True
            self._end()

    def record(self, violation: Violation, ev: Event | None) -> None:
        """Keep ``violation`` (once per name and driver line) and quarantine its page."""
        if violation.pfn:
            self.model.quarantine_pfn(violation.pfn)
        key = (violation.name, ev.func if ev else "", ev.line if ev else 0)
        if key in self._seen or len(self.violations) >= MAX_VIOLATIONS:
            return
        self._seen.add(key)
        violation.event = ev
        violation.trace = self.events[-TRACE_LEN:]
        violation.trace_dropped = max(0, len(self.events) - TRACE_LEN)
        self.violations.append(violation)

    def fail(self, name: str, message: str) -> None:
        """From a handler: report ``name`` at the current event (FATAL names end the run)."""
        raise ViolationError(Violation(name, message, 0))

    def record_hang(self, message: str) -> None:
        """From the scenario: the driver never settles (e.g. endless retries)."""
        self.record(Violation("hang", message, 0), self.events[-1] if self.events else None)
        self.ended = True
        self._end()

    def check(self, step: Callable[[], None], api: str = "scenario") -> None:
        """Run a Python-side model step (a scenario action) under the same rules."""
        ev = Event(len(self.events), api, "scenario", 0, ())
        try:
            step()
        except ViolationError as exc:
            self.events.append(ev)
            self.record(exc.violation, ev)
        if self.model.pending:
            self.events.append(ev)
        self._drain(ev)

    def _end(self) -> None:
        if self.on_violation:
            self.on_violation(self)
