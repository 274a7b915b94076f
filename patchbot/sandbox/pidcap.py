"""A cap on the number of processes one sandboxed command may start, for root too.

RLIMIT_NPROC counts the processes of the real user and the kernel does not enforce it
for uid 0, so as root a `$(shell)` fork bomb in a patch's Makefile would fill the host's
pid table until the wall clock killed the build.  Where the pids controller can be used
(cgroup v1's `pids` hierarchy, or cgroup v2 with pids enabled below our own cgroup) and we
are root, each command gets its own child of our cgroup with ``pids.max`` set; the forked
child joins it before it execs bwrap, so everything the command starts is counted there
(threads too).  Without the controller or the permission there is no such cap, only the
rlimits and the wall clock: ``PidCap.create()`` returns None and ``available()`` says so.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PREFIX = f"patchbot-{os.getpid()}-"
_serial = itertools.count(1)
# caps of commands whose end nobody waits for here (QEMU, started with popen), removed
# once empty; never a cap of run(): its command may not have joined it yet
_later: set[Path] = set()
_later_lock = threading.Lock()  # the model runs sandboxed commands from two threads


def _mounts() -> list[tuple[str, str, str, str]]:
    """(mount point, root inside the hierarchy, fs type, super options) of cgroup mounts."""
    out = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            if "-" not in fields:
                continue
            dash = fields.index("-")
            if len(fields) < dash + 4:
                continue
            fstype, options = fields[dash + 1], fields[dash + 3]
            if fstype in ("cgroup", "cgroup2"):
                out.append((fields[4], fields[3], fstype, options))
    return out


def _own_paths() -> dict[str, str]:
    """Our cgroup per hierarchy: {"pids": "/x"} for v1, {"": "/y"} for the v2 one."""
    own = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _id, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                own[name] = path
    return own


def _inside(mount: str, root: str, path: str) -> Path | None:
    """Where cgroup ``path`` of a hierarchy mounted at ``mount`` (from ``root``) is."""
    if root != "/" and path != root and not path.startswith(root.rstrip("/") + "/"):
        return None  # our cgroup is outside what this mount shows
    rel = path[len(root) :] if root != "/" else path
    return Path(mount) / rel.lstrip("/")


def parent_dir() -> Path | None:
    """Our own cgroup in a hierarchy with the pids controller, where caps are made."""
    own = _own_paths()
    for mount, root, fstype, options in _mounts():
        if fstype == "cgroup" and "pids" in options.split(",") and "pids" in own:
            where = _inside(mount, root, own["pids"])
            if where is not None and (where / "cgroup.procs").exists():
                return where
    for mount, root, fstype, _options in _mounts():
        if fstype == "cgroup2" and "" in own:
            where = _inside(mount, root, own[""])
            try:
                enabled = (where / "cgroup.subtree_control").read_text().split() if where else []
            except OSError:
                continue
            if where is not None and "pids" in enabled:
                return where
    return None


def available() -> bool:
    return os.geteuid() == 0 and parent_dir() is not None


class PidCap:
    """One command's cgroup; ``join()`` in the child, ``remove()`` after it ended."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidCap | None:
        if os.geteuid() != 0:
            return None  # RLIMIT_NPROC holds for other users
        parent = parent_dir()
        if parent is None:
            return None
        _sweep()
        path = parent / f"{_PREFIX}{next(_serial)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(f"{max_pids}\n")
        except OSError as exc:
            log.debug("no pids cap (%s): %s", path, exc)
            cls(path).remove()
            return None
        return cls(path)

    def join(self) -> None:
        """In the forked child, before exec: move this process into the cap."""
        (self.path / "cgroup.procs").write_text(f"{os.getpid()}\n")

    def current(self) -> int:
        return int((self.path / "pids.current").read_text())

    def refused(self) -> int:
        """How many forks the cap refused (pids.events: ``max N``)."""
        try:
            events = (self.path / "pids.events").read_text().split()
        except OSError:
            return 0
        pairs = dict(zip(events[::2], events[1::2], strict=False))
        return int(pairs.get("max", "0") or 0)

    def remove(self, wait: float = 1.0) -> bool:
        """rmdir; the last processes of a killed pid namespace may take a moment to go."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                log.debug("pids cap %s still busy", self.path)
                return False
            return True

    def remove_when_empty(self) -> None:
        """For a command started and left running (QEMU): removed by a later create()
        or at exit, once everything in it has ended."""
        with _later_lock:
            _later.add(self.path)


def _sweep() -> None:
    with _later_lock:
        for path in list(_later):
            if PidCap(path).remove(wait=0):
                _later.discard(path)


atexit.register(_sweep)
