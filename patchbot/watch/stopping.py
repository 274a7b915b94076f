"""The bot's stop request: what SIGTERM and SIGINT set, and the sleep between passes.

A signal handler runs in the main thread between two bytecodes, possibly inside code that
holds a lock.  ``threading.Event.set()`` takes the Event's (non-reentrant) lock, so setting
an Event from a handler deadlocks whenever the signal lands while the main thread is inside
``Event.wait()``: the bot then never exits (seen in CI as a stop that outlived 60 s; a
stress run of a bare Event hung 18 times in 30).  So the handler here only stores the
signal number, and the sleep polls that plain attribute in short naps.
"""

from __future__ import annotations

import logging
import signal
import time

log = logging.getLogger("patchbot.watch")

# the longest a stop waits for a nap to end; a nap is also cut short by the signal itself
_NAP = 0.1


class StopRequest:
    """Set by SIGTERM/SIGINT, read by the bot between steps; takes no lock anywhere."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._told = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        # nothing else: no logging (its handlers hold locks), no Event, no I/O
        if self.signum is None:
            self.signum = signum

    def requested(self) -> bool:
        """True once a stop signal came; the first call that sees it logs it."""
        if self.signum is None:
            return False
        if not self._told:
            self._told = True
            log.info("got %s: finishing the current step", signal.Signals(self.signum).name)
        return True

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop was requested."""
        deadline = time.monotonic() + seconds
        while not self.requested():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, _NAP))
        return True
