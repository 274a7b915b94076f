"""A CPU-time budget for one rule run: interrupt pure-Python work that overruns.

The analyses are linear or capped (see docs/LIMITS.md); the budget is the safety net for
what a cap missed, so one pathological file costs one ``internal/timeout`` finding
instead of a stalled lint or bot.

How the work is interrupted:

* in the main thread (every ``patchbot`` command): ``setitimer(ITIMER_PROF)`` counts the
  process's CPU time, not wall time, so a loaded machine does not time a rule out; its
  SIGPROF handler raises ``RuleTimeout`` at the next bytecode boundary.  One C call in
  between finishes first: ``re`` does not poll for signals (a quadratic search over a
  million blank lines ran 5 minutes past its budget), nor does a tree-sitter query.  So
  every regex and query over file-sized text must be linear on its own; the budget
  catches Python loops.
* in another thread (an embedding that lints from a worker): signals only reach the main
  thread, so a watchdog ``threading.Timer`` (wall clock) schedules the exception in the
  rule's thread with ``PyThreadState_SetAsyncExc``, delivered at its next bytecode boundary.

``RuleTimeout`` derives from BaseException so that a rule's own ``except Exception``
cannot swallow it.  Interrupting is safe for the shared analyses because they publish a
result only once it is complete (lru_cache stores nothing for a call that raised; the
lazy Function attributes are assigned after they are built), so the next rule on the
same file starts that work again rather than reading half of it.  An outer timer that
is already running (a profiler, a test harness) is left alone: the budget is then not
enforced for that run.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# The default per-run budget, CPU seconds.  The slowest rule run on a real file is far
# below it: analyze_file() on the largest 6.1 files (kernel/sched/core.c, 11,000 lines)
# takes about 2 s including the parse, which the first CoCo rule of a file pays.
DEFAULT_RULE_BUDGET = 8.0


class RuleTimeout(BaseException):
    """A rule ran past its budget (raised inside the rule, caught by the engine)."""


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Raise RuleTimeout inside the block once it used ``seconds`` (None: no budget)."""
    if seconds is None or seconds <= 0:
        yield
        return
    if threading.current_thread() is threading.main_thread():
        with _profiling_timer(seconds):
            yield
    else:
        with _watchdog(seconds):
            yield


@contextmanager
def _profiling_timer(seconds: float) -> Iterator[None]:
    if signal.getitimer(signal.ITIMER_PROF) != (0.0, 0.0):
        yield  # someone else's timer: do not steal it
        return

    def on_timer(_signum: int, _frame: FrameType | None) -> None:
        raise RuleTimeout

    previous = signal.signal(signal.SIGPROF, on_timer)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    done = False

    def fire() -> None:
        with lock:
            if not done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(RuleTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            done = True
            timer.cancel()
            # an exception scheduled but not yet delivered must not escape later
            ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
