"""A small seccomp filter for the model's driver runs (x86_64; elsewhere a no-op).

Cheap to build (a few dozen BPF instructions packed by hand, no libseccomp) and cheap to
run, so every run installs it in its forked child.  Two stages:

* PROCESS, before the driver library is loaded (its constructors run at load): no exec,
  no fork/clone (a fork bomb dies at its first fork, also as root, where RLIMIT_NPROC
  does not count), no sockets, no ptrace or cross-process memory, no kill, no new
  namespaces or mounts, no bpf/perf/keyring/io_uring/userfaultfd;
* FILES, after loading, before the scenario: no open/creat, unlink, rename, mkdir,
  link, truncate, chmod/chown, mknod.  A driver in the model has no business with files.

Every bubblewrap command (gcc, make, checkpatch, QEMU) gets the COMMON stage through
``bwrap --seccomp``: calls no build or emulator needs and that widen the kernel attack
surface (ptrace, cross-process memory, bpf, perf, keyrings, userfaultfd, new
namespaces, kexec/module loading).

A forbidden call kills the process with SIGSYS, which the runner reports as the
``sandbox/forbidden-syscall`` finding of that run.  The bubblewrap sandbox around the
whole model child stays the boundary; this filter is what makes an attempt visible.
"""

from __future__ import annotations

import ctypes
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl)
PROCESS = {
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "socket": 41,
    "connect": 42, "bind": 49, "socketpair": 53, "ptrace": 101, "personality": 135,
    "pivot_root": 155, "chroot": 161, "mount": 165, "umount2": 166, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "bpf": 321,
    "execveat": 322, "userfaultfd": 323, "io_uring_setup": 425, "clone3": 435,
}  # fmt: skip
# not io_uring_setup: QEMU 7.2's main loop polls its fds with io_uring
COMMON = {
    "ptrace": 101, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
    "perf_event_open": 298, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "kexec_load": 246, "init_module": 175, "finit_module": 313, "bpf": 321,
    "userfaultfd": 323, "kexec_file_load": 320,
}  # fmt: skip
FILES = {
    "open": 2, "truncate": 76, "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85,
    "link": 86, "unlink": 87, "symlink": 88, "chmod": 90, "chown": 92, "lchown": 94,
    "mknod": 133, "openat": 257, "mkdirat": 258, "mknodat": 259, "fchownat": 260,
    "unlinkat": 263, "renameat": 264, "linkat": 265, "symlinkat": 266, "fchmodat": 268,
    "renameat2": 316, "openat2": 437,
}  # fmt: skip


def supported() -> bool:
    return platform.system() == "Linux" and platform.machine() == "x86_64"


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(numbers: set[int] | dict[str, int]) -> bytes:
    """BPF: kill on another arch, on x32 numbers and on each of ``numbers``; allow the rest."""
    nrs = sorted(numbers.values() if isinstance(numbers, dict) else numbers)
    body = [
        (LD_W_ABS, 0, 0, 4),  # arch
        (JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        (LD_W_ABS, 0, 0, 0),  # syscall number
    ]
    # each test jumps forward to the final kill; "allow" sits just before it
    checks = [(JGE_K, 0, 0, X32_SYSCALL_BIT), *((JEQ_K, 0, 0, nr) for nr in nrs)]
    n = len(checks)
    for i, (code, _, jf, k) in enumerate(checks):
        body.append((code, n - i, jf, k))  # to the kill after the allow
    body += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_KILL_PROCESS)]
    return b"".join(_ins(*i) for i in body)


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(numbers: dict[str, int]) -> None:
    """Install the filter on the calling thread (and everything it starts)."""
    if not supported():
        return
    code = program(numbers)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
