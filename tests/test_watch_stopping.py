"""The bot's stop request (patchbot/watch/stopping.py): a signal never deadlocks the stop.

The stress test is the CI failure in miniature: a process that naps in a tight loop, as the
bot does between passes, gets SIGTERM at an arbitrary moment and must exit.  The handler it
replaced (``threading.Event.set()``) hung in 18 of 30 such runs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from patchbot.watch.stopping import StopRequest

_NAPPER = """
import sys
from patchbot.watch.stopping import StopRequest
stop = StopRequest()
stop.install()
print("ready", flush=True)
while not stop.sleep(0):
    pass
print("stopped", stop.signum, flush=True)
"""


def test_sleep_runs_out_without_a_signal_and_ends_at_once_with_one() -> None:
    stop = StopRequest()
    started = time.monotonic()
    assert stop.sleep(0.05) is False
    assert time.monotonic() - started >= 0.05
    assert stop.requested() is False
    stop._handle(signal.SIGTERM, None)
    started = time.monotonic()
    assert stop.sleep(30) is True
    assert time.monotonic() - started < 1
    assert stop.requested() is True and stop.signum == signal.SIGTERM


def test_the_stop_is_logged_once_from_the_main_code_not_the_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = StopRequest()
    with caplog.at_level(logging.INFO, logger="patchbot.watch"):
        stop._handle(signal.SIGINT, None)
        stop._handle(signal.SIGTERM, None)  # a second signal keeps the first
        assert caplog.messages == []  # the handler itself logs nothing
        assert stop.requested() and stop.requested()
    assert caplog.messages == ["got SIGINT: finishing the current step"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_at_any_moment_of_the_nap_loop_stops_the_process(signum: int) -> None:
    hung = 0
    for attempt in range(30):
        proc = subprocess.Popen(
            [sys.executable, "-c", _NAPPER],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.01 * (attempt % 7))  # land the signal at varying points of the loop
        proc.send_signal(signum)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            hung += 1
            continue
        assert proc.returncode == 0 and out.strip() == f"stopped {int(signum)}"
    assert hung == 0, f"{hung} of 30 processes never stopped after {signal.Signals(signum).name}"
