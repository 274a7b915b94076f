"""The pids cap (patchbot/sandbox/pidcap.py): a fork bomb in patch content stays small.

As root RLIMIT_NPROC does nothing, so before the cap a `$(shell)` loop in a patch's
Makefile could start processes until the host's pid table was full.  Where the cap cannot
be made (no pids controller, not root) the run still works and says so; the test asserts
whichever the machine gives, and this machine (root, cgroup v1 pids) gives the cap.
"""

from __future__ import annotations

import os
from pathlib import Path

from patchbot import sandbox
from patchbot.sandbox import pidcap
from patchbot.sandbox.limits import Limits

# 200 background sleepers; dash stops at its first failed fork ("Cannot fork")
_BOMB = "i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done; echo all-started; wait"


def _ours() -> list[Path]:
    parent = pidcap.parent_dir()
    return sorted(parent.glob(f"patchbot-{os.getpid()}-*")) if parent else []


def test_a_fork_loop_is_refused_at_the_cap_and_reported() -> None:
    limits = Limits().with_(processes=32, wall_seconds=60)
    result = sandbox.run(["sh", "-c", _BOMB], limits=limits)
    if not pidcap.available():  # no controller here: nothing caps it but the clock
        assert result.forks_refused == 0 and "all-started" in result.text()
        return
    assert os.geteuid() == 0
    assert "all-started" not in result.text(), result.text()
    assert result.forks_refused > 0 and not result.ok
    what, message = result.violation() or ("", "")
    assert what == "process-limit", result.text()
    assert "more than 32 processes" in message
    assert _ours() == []  # the cap's cgroup went with the command


def test_a_normal_command_under_the_cap_runs_and_leaves_no_cgroup() -> None:
    result = sandbox.run(["sh", "-c", "for i in 1 2 3 4 5; do true & done; wait; echo done"])
    assert result.ok and result.text().strip() == "done"
    assert result.forks_refused == 0 and result.violation() is None
    assert _ours() == []


def test_the_cap_counts_the_command_and_everything_it_starts() -> None:
    if not pidcap.available():
        assert pidcap.PidCap.create(8) is None
        return
    cap = pidcap.PidCap.create(8)
    assert cap is not None and cap.path.parent == pidcap.parent_dir()
    assert (cap.path / "pids.max").read_text().strip() == "8"
    assert cap.current() == 0 and cap.refused() == 0
    assert cap.remove() and not cap.path.exists()


def test_a_cap_made_for_a_command_survives_the_next_commands_sweep() -> None:
    """run() makes the cap before its child joins it: another thread's create() (the
    model runs two sandboxed children at once) must not take it as left over."""
    if not pidcap.available():
        assert pidcap.PidCap.create(8) is None
        return
    first = pidcap.PidCap.create(8)
    second = pidcap.PidCap.create(8)  # sweeps what is waiting to be removed
    assert first is not None and second is not None
    assert first.path.is_dir() and second.path.is_dir()
    # a cap left for later (QEMU's) goes at the next sweep once it is empty
    first.remove_when_empty()
    third = pidcap.PidCap.create(8)
    assert third is not None and not first.path.exists() and second.path.is_dir()
    assert second.remove() and third.remove()
