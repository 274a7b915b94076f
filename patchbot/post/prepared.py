"""Read prepared reply messages (an mbox from `patchbot review`) for `patchbot post`.

Each message is checked before anything is sent: it must parse as MIME without defects
and carry From (or a configured sender), To or Cc, Subject, Message-ID and In-Reply-To;
every address must be local@domain with no control characters in its name (see
patchbot.post.addresses).  A `lint --format review` draft is told apart and pointed at
`patchbot review FILE`.
One bad message stops the whole run with a one-line error, so nothing half-sends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import BinaryIO

from patchbot.errors import InputError
from patchbot.post.addresses import problem as address_problem
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


ADDRESS_HEADERS = ("From", "To", "Cc", "Sender", "Reply-To")
NEEDED = ("Subject", "Message-ID", "In-Reply-To")


def _raw_headers(msg: EmailMessage) -> dict[str, list[str]]:
    """Header values as written, unfolded and not yet parsed: parsing a hostile address
    header raises inside the email package, so each one is checked before that."""
    found: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        text = " ".join(str(value).replace("\r", " ").replace("\n", " ").split())
        found.setdefault(name.lower(), []).append(text)
    return found


def _check(msg: EmailMessage, where: str, sender: str | None) -> EmailMessage:
    defects = list(msg.defects) + [d for part in msg.walk() for d in part.defects]
    if defects:
        raise InputError(f"{where}: broken MIME ({type(defects[0]).__name__}); nothing sent")
    if msg.is_multipart():
        raise InputError(f"{where}: a review reply must be one text/plain part; nothing sent")
    raw = _raw_headers(msg)
    if not raw.get("message-id") and not raw.get("from") and not raw.get("to"):
        # what `lint --format review` writes: a draft to edit and send by hand
        raise InputError(
            f"{where}: a draft without Message-ID, From or To (as `lint --format review` "
            "writes); `patchbot review FILE` writes complete replies; nothing sent"
        )
    for name in NEEDED:
        if not "".join(raw.get(name.lower(), [])):
            raise InputError(f"{where}: no {name} header; nothing sent")
    mids = raw["message-id"]
    if len(mids) > 1 or not _MID_RE.match(mids[0]):
        raise InputError(f"{where}: malformed Message-ID {' '.join(mids)!r}; nothing sent")
    parent = " ".join(raw["in-reply-to"])
    if not any(_MID_RE.match(word) for word in parent.split()):
        raise InputError(f"{where}: malformed In-Reply-To {parent!r}; nothing sent")
    for name in ADDRESS_HEADERS:
        for value in raw.get(name.lower(), []):
            why = address_problem(name, value)
            if why:
                raise InputError(f"{where}: {why}; nothing sent")
    if len(raw.get("from", [])) > 1:
        raise InputError(f"{where}: more than one From header; nothing sent")
    if not (raw.get("to") or raw.get("cc")):
        raise InputError(f"{where}: no To or Cc; nothing sent")
    if "from" not in raw:
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
