"""Read prepared reply messages (an mbox from `patchbot review`) for `patchbot post`.

Each message is checked before anything is sent: it must parse as MIME without defects
and carry From (or a configured sender), To or Cc, Subject, Message-ID and In-Reply-To.
One bad message stops the whole run with a one-line error, so nothing half-sends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import BinaryIO

from patchbot.errors import InputError
from patchbot.post.message import bracket, parse_bytes
from patchbot.series.load import read_capped
from patchbot.series.mail import split_mbox

MAX_INPUT = 64 << 20
_MBOXRD_RE = re.compile(rb"^>(>*From )", re.MULTILINE)
_MID_RE = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")


def _read(name: str, stdin: BinaryIO | None) -> bytes:
    if name == "-":
        if stdin is None:
            raise InputError("-: no standard input")
        return read_capped(stdin, MAX_INPUT)
    path = Path(name)
    try:
        if path.stat().st_size > MAX_INPUT:
            raise InputError(f"{name}: over the input limit of {MAX_INPUT} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: {exc.strerror}") from None


def read_replies(
    inputs: Sequence[str], stdin: BinaryIO | None, *, sender: str | None
) -> list[EmailMessage]:
    out: list[EmailMessage] = []
    for name in inputs:
        chunks = split_mbox(_read(name, stdin))
        for number, (sep, data) in enumerate(chunks, 1):
            where = f"{name}#{number}" if len(chunks) > 1 else name
            if sep:
                data = _MBOXRD_RE.sub(rb"\1", data)
            out.append(_check(parse_bytes(data.rstrip(b"\n") + b"\n"), where, sender))
    if not out:
        raise InputError(f"no messages in {', '.join(inputs)}")
    return out


def _check(msg: EmailMessage, where: str, sender: str | None) -> EmailMessage:
    defects = list(msg.defects) + [d for part in msg.walk() for d in part.defects]
    if defects:
        raise InputError(f"{where}: broken MIME ({type(defects[0]).__name__}); nothing sent")
    if msg.is_multipart():
        raise InputError(f"{where}: a review reply must be one text/plain part; nothing sent")
    for name in ("Subject", "Message-ID", "In-Reply-To"):
        if not msg.get(name):
            raise InputError(f"{where}: no {name} header; nothing sent")
    if not _MID_RE.match(str(msg["Message-ID"]).strip()):
        raise InputError(f"{where}: malformed Message-ID {str(msg['Message-ID'])!r}; nothing sent")
    if not (msg.get("To") or msg.get("Cc")):
        raise InputError(f"{where}: no To or Cc; nothing sent")
    if not msg.get("From"):
        if not sender:
            raise InputError(f"{where}: no From header and no sender configured; nothing sent")
        msg["From"] = sender
    try:
        msg.get_content()
    except (LookupError, ValueError) as exc:
        raise InputError(f"{where}: the body does not decode ({exc}); nothing sent") from None
    return msg


def thread_key(msg: EmailMessage) -> str:
    """The per-series cap counts replies by the thread they answer (first Reference)."""
    refs = str(msg.get("References", "")).split()
    return "thread:" + (refs[0] if refs else bracket(str(msg["In-Reply-To"])))
