"""The bubblewrap command line for one sandboxed command.

What the command sees: /usr read-only (with the merged-/usr links /bin, /sbin, /lib*),
the few /etc files the toolchain reads (the loader cache, alternatives, passwd/group),
a fresh /proc and a minimal /dev, a private /tmp and an empty HOME on tmpfs, and only the
paths the caller names: read-only, or writable for its scratch tree and build directory.
The real HOME (~/.gitconfig, ~/.ssh, ~/.config/patchbot, the ledger), the cache of other
series, the network and every other process are not there.  The environment is cleared
and rebuilt from a short list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

SANDBOX_HOME = "/home/sandbox"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
# /etc entries the toolchain needs: dynamic loader, the Debian alternatives (cc, ...)
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "passwd", "group")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

Bind = tuple[Path, Path]  # (path on the host, path in the sandbox)


def _system() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in SYSTEM_LINKS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for name in ETC:
        path = f"/etc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_argv(
    command: Sequence[str],
    *,
    readable: Sequence[Path | Bind] = (),
    writable: Sequence[Path | Bind] = (),
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    args = [
        "bwrap",
        "--unshare-all",  # user, pid, net, ipc, uts, cgroup
        "--die-with-parent",
        "--new-session",  # no TIOCSTI into the caller's terminal
        "--cap-drop",
        "ALL",
        *_system(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/home",
        "--dir",
        SANDBOX_HOME,
        "--clearenv",
    ]
    for flag, paths in (("--ro-bind", readable), ("--bind", writable)):
        for entry in paths:
            host, inside = entry if isinstance(entry, tuple) else (entry, entry)
            args += [flag, str(host), str(inside)]
    base = {"PATH": SANDBOX_PATH, "HOME": SANDBOX_HOME, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    for key, value in {**base, **(env or {})}.items():
        args += ["--setenv", key, value]
    if cwd is not None:
        args += ["--chdir", str(cwd)]
    return [*args, "--", *command]


def plain_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The same scrubbed environment for a run without the sandbox (--no-sandbox)."""
    base = {
        "PATH": SANDBOX_PATH,
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }
    return {**base, **(env or {})}
