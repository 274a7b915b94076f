"""Is the sandbox on, and can it be set up here?

It is on unless the user asked for --no-sandbox (or, for `watch`, its config says
``run-patches-without-sandbox = true`` in [post]).  When it is on and bubblewrap or user
namespaces are missing, the command refuses with one line that says why and how to fix
it, before doing any work: running patch content on the host is never a fallback.
"""

from __future__ import annotations

import argparse

from patchbot.errors import InputError

_STATE = {"enabled": True}
_AVAILABLE: dict[str, str | None] = {}


class SandboxUnavailable(InputError):
    """The sandbox is required but cannot be set up (exit 2, one line)."""


def set_enabled(on: bool) -> None:
    _STATE["enabled"] = on


def enabled() -> bool:
    return _STATE["enabled"]


def _probe() -> str | None:
    """None when bwrap can create every namespace here, else why it cannot."""
    import shutil
    import subprocess

    from patchbot.sandbox.bwrap import bwrap_argv

    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    try:
        proc = subprocess.run(
            bwrap_argv(["true"]),
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return (
            f"bwrap cannot create the namespaces ({why}): enable unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1, "
            "user.max_user_namespaces > 0)"
        )
    return None


def check_available() -> None:
    """Raise SandboxUnavailable when the sandbox is on but cannot work here."""
    if not enabled():
        return
    if "why" not in _AVAILABLE:
        _AVAILABLE["why"] = _probe()
    why = _AVAILABLE["why"]
    if why is not None:
        raise SandboxUnavailable(
            f"cannot sandbox patch content: {why} (or pass --no-sandbox to run patches "
            "on this host unisolated)"
        )


NO_SANDBOX_HELP = (
    "run patch content (builds, model runs, QEMU) on this host without the sandbox: "
    "only for patches you trust (docs/SANDBOX.md)"
)


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-sandbox", action="store_true", help=NO_SANDBOX_HELP)


def from_args(args: argparse.Namespace) -> None:
    """Apply --no-sandbox, then refuse early (one line) if the sandbox cannot work here."""
    set_enabled(not getattr(args, "no_sandbox", False))
    check_available()
