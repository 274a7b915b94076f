"""SMTP servers on loopback for the posting tests: a real aiosmtpd intake that archives
each message with public-inbox-mda (so 250 means "in the archive"), with switches to
refuse, slow down or stall, and a server that drops the connection in the middle of DATA."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from archive_helpers import Inbox, free_port


@dataclass
class Intake:
    inbox: Inbox
    refuse: int = 0  # answer 451 to this many DATA commands first (nothing archived)
    stall_on: int | None = None  # on this DATA (1-based): archive, then never answer
    delay: float = 0.0  # seconds to think before archiving each message (a slow server)
    received: list[str] = field(default_factory=list)  # Message-IDs archived, in order
    rcpts: list[list[str]] = field(default_factory=list)
    mail_from: list[str] = field(default_factory=list)  # envelope senders, as archived
    datas: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.datas += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 intake busy, try again later"
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        ok, why = self.inbox.deliver(raw)
        if not ok:
            return f"550 5.7.1 {why}"
        self.received.append(str(msg["Message-ID"]).strip())
        self.rcpts.append(list(envelope.rcpt_tos))
        self.mail_from.append(envelope.mail_from)
        if self.stall_on == self.datas:
            self.stalled.set()
            self.release.wait(600)  # archived, but the client never hears 250
        return "250 OK archived"


@contextmanager
def smtp_intake(inbox: Inbox, **switches: object) -> Iterator[tuple[Intake, int]]:
    intake = Intake(inbox, **switches)  # type: ignore[arg-type]
    port = free_port()
    controller = Controller(intake, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield intake, port
    finally:
        intake.release.set()
        # a stalled handler keeps the loop thread busy; do not wait for it forever
        stopper = threading.Thread(target=controller.stop, daemon=True)
        stopper.start()
        stopper.join(5)


@contextmanager
def dropping_smtp() -> Iterator[int]:
    """Answers like a server until the message body, then closes without a reply."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = int(listener.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            # close the reader too: a socket with an open makefile() stays connected
            with conn, conn.makefile("rb") as reader:
                conn.sendall(b"220 127.0.0.1 ESMTP flaky\r\n")
                for line in reader:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 127.0.0.1\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        for body in reader:
                            if body == b".\r\n":
                                break
                        break  # drop the connection: no 250, no 5xx
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 OK\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        listener.close()
