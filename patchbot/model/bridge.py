"""The Python half of the C<->Python bridge: event recording and fault injection.

The shim calls ``pb_event(api, func, line, a0, a1, a2, a3)`` for every wrapped API call
(see shim/common/pb_bridge.h).  A :class:`Session` receives it through one ctypes
callback, records an :class:`Event` (api, driver function, driver line, args), decides
whether this call is the one the fault schedule fails ("fail the Nth call of kind K"),
and dispatches it to the handler the driver harness registered for that api.  The
handler's return value goes back to C.

A handler that finds a broken invariant raises ``ViolationError``; the session records it
with the trace and ends the run from inside the callback (``on_violation``), as a guest
panic would: an exception cannot cross the ctypes boundary.
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

# Calls every driver shim wraps the same way; each harness adds its own kinds on top.
SLAB_ALLOCATIONS = ("kmalloc", "kzalloc", "kcalloc", "kmalloc_array", "vmalloc", "vzalloc")
COMMON_FAULT_KINDS: dict[str, str] = {
    "set_memory_encrypted": "conversion",
    "set_memory_decrypted": "conversion",
    **dict.fromkeys(SLAB_ALLOCATIONS, "allocation"),
}


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

    def describe(self) -> str:
        fault = " [injected failure]" if self.injected else ""
        note = f" ({self.note})" if self.note else ""
        return f"{self.func}:{self.line}: {self.api}{note}{fault}"


@dataclass(frozen=True)
class Fault:
    """Fail the Nth (1-based) call of kind ``kind``."""

    kind: str
    nth: int

    def describe(self) -> str:
        return f"{self.kind}#{self.nth}"


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
    violation: Violation | None = None
    unimplemented: str | None = None
    lib: ctypes.CDLL | None = None
    _cb: object = None

    def attach(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
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
            ev.injected = self.fault is not None and self.fault.kind == kind and self.fault.nth == n
        if self.on_event:
            self.on_event(ev)
        handler = self.handlers.get(api)
        try:
            ev.result = handler(self, ev) if handler else 0
        except ViolationError as exc:
            self.record(exc.violation, ev)
            self._end()
        except Exception as exc:  # a model bug must not look like a clean run
            log.exception("model handler for %s failed", api)
            self.record(Violation("model-error", f"model handler for {api} failed: {exc}", 0), ev)
            self._end()
        return ev.result

    def record(self, violation: Violation, ev: Event | None) -> None:
        violation.event = ev
        violation.trace = self.events[-TRACE_LEN:]
        violation.trace_dropped = max(0, len(self.events) - TRACE_LEN)
        self.violation = violation

    def fail(self, name: str, message: str) -> None:
        """From a handler: report ``name`` at the current event and end the run."""
        raise ViolationError(Violation(name, message, 0))

    def record_hang(self, message: str) -> None:
        """From the scenario: the driver never settles (e.g. endless retries)."""
        self.record(Violation("hang", message, 0), self.events[-1] if self.events else None)
        self._end()

    def check(self, step: Callable[[], None], api: str = "scenario") -> None:
        """Run a Python-side model step (a scenario action) under the same rules."""
        try:
            step()
        except ViolationError as exc:
            ev = Event(len(self.events), api, "scenario", 0, ())
            self.events.append(ev)
            self.record(exc.violation, ev)
            self._end()

    def _end(self) -> None:
        if self.on_violation:
            self.on_violation(self)
