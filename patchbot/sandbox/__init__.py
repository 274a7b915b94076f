"""The one trust boundary: every process that compiles, loads or runs patch content.

Patches come from public mailing lists, so anything built from them (the model's driver
library, a kernel's Makefiles and Kconfig, checkpatch and sparse on patched files, the
guest under QEMU) is hostile until proven otherwise.  Nothing else in patchbot starts a
process on patch content: callers describe the command and what it may touch, this
package runs it.

Modules
-------
limits.py   Limits: wall clock, CPU seconds, address space, processes, file size, open
            files, output bytes.  The rlimits are set in the child before it execs bwrap
            (inherited by everything below it); output and wall clock are enforced here.
bwrap.py    bwrap_argv(): the bubblewrap command line: new user/pid/net/ipc/uts/cgroup
            namespaces, no capabilities, a read-only /usr (and the /bin, /lib* links),
            a minimal /etc, private /tmp and empty HOME on tmpfs, only the named paths
            bound (read-only or writable), a scrubbed environment, --die-with-parent.
mode.py     whether the sandbox is on (--no-sandbox turns it off, only when asked),
            and check_available(): one line saying why it cannot be set up and how to fix.
process.py  run(): start the command in the sandbox, feed stdin, cap stdout/stderr,
            kill the whole process tree at the wall clock; SandboxResult.violation()
            names what the sandbox stopped (timeout, output, an rlimit signal).
seccomp.py  a small BPF filter (x86_64) installed by the model's child in each run
            before the driver library is loaded: exec, fork/clone, sockets, ptrace,
            namespaces and (after loading) file access kill the run with SIGSYS.

A violation is a finding of the patch that caused it: rule ``sandbox/<what>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchbot.sandbox.limits import Limits
    from patchbot.sandbox.mode import SandboxUnavailable, check_available, enabled, set_enabled
    from patchbot.sandbox.process import SandboxResult, popen, run

__all__ = [
    "Limits",
    "SandboxResult",
    "SandboxUnavailable",
    "check_available",
    "enabled",
    "popen",
    "run",
    "set_enabled",
]
_WHERE = {
    "Limits": "limits",
    "SandboxResult": "process",
    "run": "process",
    "popen": "process",
    "SandboxUnavailable": "mode",
    "check_available": "mode",
    "enabled": "mode",
    "set_enabled": "mode",
}


def __getattr__(name: str) -> Any:
    """Lazy: every command's parser imports the --no-sandbox option from mode.py, and
    `patchbot lint` should not pay for the process machinery."""
    import importlib

    if name not in _WHERE:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"patchbot.sandbox.{_WHERE[name]}"), name)
