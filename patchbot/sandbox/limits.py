"""Resource limits for one sandboxed command.

The rlimits are set in the forked child right before it execs bwrap, so bwrap and
everything it starts inherit them.  RLIMIT_NPROC counts every process of the real user
and is not enforced for root (the kernel exempts uid 0): as root, ``processes`` is also
the ``pids.max`` of the command's own pids cgroup where one can be made
(patchbot.sandbox.pidcap); the model's runs forbid fork in their seccomp filter
(patchbot.sandbox.seccomp), and the wall clock kills the whole pid namespace of a build.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, replace

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 600.0  # the whole process tree is killed after this
    cpu_seconds: int = 900  # per process (SIGXCPU, then SIGKILL)
    address_space: int = 4 * GiB  # per process
    processes: int = 4096  # per real user; as root, per command (pids cgroup, see above)
    file_size: int = 1 * GiB  # largest file a process may write
    open_files: int = 1024
    output_bytes: int = 16 * MiB  # stdout and stderr each; more kills the command

    def with_(self, **changes: float) -> Limits:
        return replace(self, **changes)  # type: ignore[arg-type]

    def apply(self) -> None:
        """In the child, before exec: set the rlimits (soft = hard, so they stay)."""
        for what, value in (
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_AS, self.address_space),
            (resource.RLIMIT_NPROC, self.processes),
            (resource.RLIMIT_FSIZE, self.file_size),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(what, (value, value))

    def describe(self) -> str:
        return (
            f"wall {self.wall_seconds:g} s, CPU {self.cpu_seconds} s, address space "
            f"{self.address_space // MiB} MiB, {self.processes} processes, files up to "
            f"{self.file_size // MiB} MiB, {self.open_files} open files, output "
            f"{self.output_bytes // MiB} MiB"
        )
