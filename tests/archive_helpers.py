"""A real public-inbox archive served on loopback, for tests that fetch threads.

Builds a v2 inbox with public-inbox-init, delivers mails with public-inbox-mda and
serves it with public-inbox-httpd on a free port.  Nothing is mocked: the tests talk
HTTP to the same server software lore.kernel.org runs.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

LIST = "coco@example.org"
TOOLS = ("public-inbox-init", "public-inbox-mda", "public-inbox-httpd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> None:
    result = subprocess.run(cmd, input=data, env=env, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {result.stderr.decode(errors='replace')}")


def _deliverable(mail: bytes) -> bytes:
    """A format-patch file as public-inbox-mda wants it: no mbox From line, a To:."""
    if mail.startswith(b"From "):
        mail = mail.split(b"\n", 1)[1]
    return b"To: " + LIST.encode() + b"\n" + mail


class Inbox:
    """A public-inbox v2 inbox on disk; deliver() runs public-inbox-mda like a list server."""

    def __init__(self, root: Path, name: str = "coco", address: str = LIST) -> None:
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} missing: run scripts/setup.sh (public-inbox)")
        for sub in ("home", "emergency"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.root, self.name, self.address = root, name, address
        self.env = {
            **os.environ,
            "HOME": str(root / "home"),
            "PI_CONFIG": str(root / "home" / "pi-config"),
            "PI_EMERGENCY": str(root / "emergency"),
        }
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/{name}"
        init = ["public-inbox-init", "-V2", "-j", "1", "-L", "full", name, str(root / name)]
        _run([*init, self.base, address], self.env)
        _run(
            ["git", "config", "-f", self.env["PI_CONFIG"], "publicinboxmda.spamcheck", "none"],
            self.env,
        )

    def deliver(self, mail: bytes) -> tuple[bool, str]:
        """Archive one message; (False, why) when mda diverted it to the emergency maildir.

        Each delivery gets its own emergency maildir: mda writes every message there
        before it imports it, so with one shared directory a delivery running at the
        same time (the SMTP intake archiving a bot reply while a test seeds a new
        revision) looked like a parked message and failed the test about 1 run in 4.
        """
        emergency = Path(tempfile.mkdtemp(prefix="mda-", dir=self.root / "emergency"))
        result = subprocess.run(
            ["public-inbox-mda"],
            input=mail,
            env={**self.env, "ORIGINAL_RECIPIENT": self.address, "PI_EMERGENCY": str(emergency)},
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            return False, f"mda exit {result.returncode}"
        if any(p.is_file() for p in emergency.rglob("*")):
            why = result.stderr.decode(errors="replace").strip() or "refused by the prechecks"
            return False, why.splitlines()[0]
        return True, ""

    @contextmanager
    def serve(self) -> Iterator[str]:
        server = subprocess.Popen(
            ["public-inbox-httpd", "-W0", "-l", f"http://127.0.0.1:{self.port}"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None:
                        raise RuntimeError("public-inbox-httpd exited") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError("public-inbox-httpd did not listen in 20 s") from None
                    time.sleep(0.05)
            yield self.base
        finally:
            server.terminate()
            server.wait(timeout=10)


@contextmanager
def serve_inbox(root: Path, mails: Iterable[bytes], name: str = "coco") -> Iterator[str]:
    """Deliver ``mails`` into a fresh inbox under ``root``; yields the archive base URL."""
    inbox = Inbox(root, name)
    for mail in mails:
        ok, why = inbox.deliver(_deliverable(mail))
        if not ok:
            raise RuntimeError(f"public-inbox-mda refused a fixture: {why}")
    with inbox.serve() as base:
        yield base


@contextmanager
def serve_http(handler: type[http.server.BaseHTTPRequestHandler], path: str = "") -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 in a thread for one test: a stand-in for a server that
    cannot be installed here (Patchwork) or a broken archive.  Yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
