"""Run one command in the sandbox: stdin from a file, stdout/stderr capped, a wall clock.

The child gets its rlimits (Limits.apply) and a new session before it execs bwrap.  At
the wall clock, or when stdout or stderr passes the output cap, bwrap is killed; its
--die-with-parent then takes down the pid namespace, i.e. every process the command
started, including ones that put themselves in a new session.

With the sandbox off (--no-sandbox, asked for explicitly) the same command runs with the
same rlimits, environment, caps and wall clock, but sees the host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from patchbot.sandbox import seccomp
from patchbot.sandbox.bwrap import bwrap_argv, plain_env
from patchbot.sandbox.limits import Limits
from patchbot.sandbox.mode import check_available, enabled
from patchbot.sandbox.pidcap import PidCap

log = logging.getLogger(__name__)

DEFAULT_LIMITS = Limits()

# what a signal that ended the command says about who stopped it
_SIGNALS = {
    signal.SIGXCPU: ("cpu-limit", "used up its CPU-time limit (SIGXCPU)"),
    signal.SIGXFSZ: ("file-size-limit", "wrote a file past the file-size limit (SIGXFSZ)"),
    signal.SIGSYS: ("forbidden-syscall", "made a system call the seccomp filter forbids"),
}


@dataclass
class SandboxResult:
    command: list[str]
    returncode: int  # negative: killed by that signal
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool = False
    overflow: str = ""  # "stdout" or "stderr" when that stream passed the cap
    sandboxed: bool = True
    limits: Limits = field(default_factory=Limits)
    forks_refused: int = 0  # forks the pids cap refused (sandbox/pidcap.py)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.overflow

    @property
    def signal(self) -> int | None:
        if self.returncode < 0:
            return -self.returncode
        return None

    def text(self) -> str:
        return (self.stdout + self.stderr).decode(errors="replace")

    def violation(self) -> tuple[str, str] | None:
        """(what, message) when the sandbox had to stop the command, else None."""
        name = Path(self.command[0]).name if self.command else "command"
        if self.timed_out:
            return (
                "timeout",
                f"{name} was still running after {self.limits.wall_seconds:g} s; the "
                "sandbox killed its whole process tree",
            )
        if self.overflow:
            return (
                "output-limit",
                f"{name} wrote more than {self.limits.output_bytes >> 20} MiB to its "
                f"{self.overflow}; the sandbox killed it",
            )
        if self.forks_refused and not self.ok:
            return (
                "process-limit",
                f"{name} tried to run more than {self.limits.processes} processes at once; "
                f"the sandbox refused {self.forks_refused} fork(s)",
            )
        sig = self.signal
        if sig is not None and sig in _SIGNALS:
            what, why = _SIGNALS[signal.Signals(sig)]
            return what, f"{name} {why}"
        return None


def _preexec(limits: Limits, cap: PidCap | None) -> None:
    os.setsid()
    if cap is not None:
        with contextlib.suppress(OSError):  # no cap then: the rlimits and the clock hold
            cap.join()
    limits.apply()


def run(
    command: Sequence[str],
    *,
    readable: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> SandboxResult:
    """Run ``command`` seeing only ``readable`` (read-only) and ``writable`` paths."""
    sandboxed = enabled()
    filter_file = _seccomp_file() if sandboxed else None
    if sandboxed:
        check_available()
        argv = bwrap_argv(command, readable=readable, writable=writable, cwd=cwd, env=env)
        child_env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
    else:
        argv, child_env = list(command), plain_env(env)
    log.debug("sandbox%s: %s", "" if sandboxed else " (off)", " ".join(command))
    cap = PidCap.create(limits.processes)
    start = time.monotonic()
    try:
        proc = _start(argv, filter_file, stdin, None if sandboxed else cwd, child_env, limits, cap)
    except BaseException:
        if cap is not None:
            cap.remove(wait=0)
        raise
    if filter_file is not None:
        filter_file.close()
    out, timed_out, overflow = _collect(proc, limits, start)
    returncode = proc.wait()
    refused = 0
    if cap is not None:
        refused = cap.refused()
        cap.remove()
    if sandboxed and returncode > 128 and not timed_out and not overflow:
        returncode = 128 - returncode  # bwrap exits 128+N when the command died of N
    return SandboxResult(
        list(command),
        returncode,
        out["stdout"],
        out["stderr"],
        time.monotonic() - start,
        timed_out,
        overflow,
        sandboxed,
        limits,
        refused,
    )


def _start(
    argv: list[str],
    filter_file: IO[bytes] | None,
    stdin: bytes | None,
    cwd: Path | None,
    env: dict[str, str],
    limits: Limits,
    cap: PidCap | None,
) -> subprocess.Popen[bytes]:
    with tempfile.TemporaryFile() as stdin_file:
        if stdin:
            stdin_file.write(stdin)
            stdin_file.seek(0)
        return subprocess.Popen(
            _with_seccomp(argv, filter_file),
            stdin=stdin_file,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            pass_fds=(filter_file.fileno(),) if filter_file else (),
            preexec_fn=lambda: _preexec(limits, cap),
        )


def _seccomp_file() -> IO[bytes] | None:
    """The COMMON seccomp stage as compiled BPF in a file for ``bwrap --seccomp FD``."""
    if not seccomp.supported():
        return None
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it after Popen
    handle.write(seccomp.program(seccomp.COMMON))
    handle.seek(0)
    return handle


def _with_seccomp(argv: list[str], filter_file: IO[bytes] | None) -> list[str]:
    if filter_file is None:
        return argv
    return [argv[0], "--seccomp", str(filter_file.fileno()), *argv[1:]]


def _collect(
    proc: subprocess.Popen[bytes], limits: Limits, start: float
) -> tuple[dict[str, bytes], bool, str]:
    """Read both pipes to EOF, up to the caps and the wall clock; kill on either."""
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    sizes = {"stdout": 0, "stderr": 0}
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    timed_out, overflow = False, ""
    deadline = start + limits.wall_seconds
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(left):
            data = os.read(key.fd, 1 << 16)
            if not data:
                sel.unregister(key.fileobj)
                continue
            name = key.data
            sizes[name] += len(data)
            if sizes[name] > limits.output_bytes:
                overflow = name
                break
            chunks[name].append(data)
        if overflow:
            break
    if timed_out or overflow:
        _kill(proc)
    sel.close()
    proc.stdout.close()
    proc.stderr.close()
    return {k: b"".join(v) for k, v in chunks.items()}, timed_out, overflow


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """bwrap and its session; --die-with-parent then empties the pid namespace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def popen(
    command: Sequence[str],
    *,
    readable: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    stdout: IO[bytes],
    limits: Limits = DEFAULT_LIMITS,
) -> subprocess.Popen[bytes]:
    """Start a long-running command (QEMU) in the sandbox; stdout+stderr to ``stdout``.

    The caller owns the wall clock: killing the returned process (bwrap) takes down
    everything in the sandbox (--die-with-parent, pid namespace).
    """
    sandboxed = enabled()
    filter_file = _seccomp_file() if sandboxed else None
    if sandboxed:
        check_available()
        argv = bwrap_argv(command, readable=readable, writable=writable, cwd=Path("/tmp"))
        child_env: dict[str, str] = {"PATH": "/usr/bin:/bin"}
    else:
        argv, child_env = list(command), plain_env()
    log.debug("sandbox%s: %s", "" if sandboxed else " (off)", " ".join(command))
    cap = PidCap.create(limits.processes)
    try:
        proc = subprocess.Popen(
            _with_seccomp(argv, filter_file),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=child_env,
            pass_fds=(filter_file.fileno(),) if filter_file else (),
            preexec_fn=lambda: _preexec(limits, cap),
        )
    except BaseException:
        if cap is not None:
            cap.remove(wait=0)
        raise
    finally:
        if filter_file is not None:
            filter_file.close()
    if cap is not None:  # Popen returned after the exec, so the child is in the cap
        cap.remove_when_empty()
    return proc
