"""A review reply as the RFC 5322 message patchbot sends, with a deterministic Message-ID.

The Message-ID is a hash of the reviewed message's Message-ID, the digest of the findings
the reply carries and MSGID_SCHEME: reviewing the same patch with the same findings again,
on another run or after a crash, gives the same Message-ID, so the ledger and the archive
can tell that the reply was already sent.  New findings (or a new revision, which has new
Message-IDs) give a new reply.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import logging
import re
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

from patchbot import __version__
from patchbot.errors import InputError
from patchbot.post.addresses import clean_address

# Bump when the mapping from (reviewed message, findings) to replies changes in a way that
# must produce new replies rather than being recognised as already sent.
MSGID_SCHEME = "patchbot-review-1"
# SMTP is 7-bit safe only with this; git send-email writes the same
MBOX_SEPARATOR = "From patchbot Thu Jan  1 00:00:00 1970\n"
POLICY = email.policy.SMTP.clone(max_line_length=998)
log = logging.getLogger(__name__)


class Reply(Protocol):
    """What build_message needs of a reply: patchbot.review.compose.ReviewMail has it."""

    @property
    def kind(self) -> str: ...
    @property
    def patch_index(self) -> int | None: ...
    @property
    def in_reply_to(self) -> str: ...
    @property
    def references(self) -> list[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def to(self) -> list[str]: ...
    @property
    def cc(self) -> list[str]: ...
    @property
    def body(self) -> str: ...
    @property
    def findings_digest(self) -> str: ...


def bracket(message_id: str) -> str:
    mid = message_id.strip()
    return mid if mid.startswith("<") else f"<{mid}>"


def bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def deterministic_message_id(in_reply_to: str, findings_digest: str, sender: str) -> str:
    """``<patchbot.HASH@sender-domain>``, stable for one reviewed message and findings."""
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "patchbot.invalid"
    key = "\0".join((MSGID_SCHEME, bare(in_reply_to), findings_digest)).encode()
    return f"<patchbot.{hashlib.sha256(key).hexdigest()[:32]}@{domain}>"


def build_message(
    reply: Reply, *, sender: str, date: str | None = None, list_id: str | None = None
) -> EmailMessage:
    """The full message for ``reply``; ``date`` defaults to now (RFC 2822 form)."""
    if not _one_line(reply.in_reply_to).strip("<> "):
        raise InputError(f"{reply.subject!r}: a review reply needs the reviewed Message-ID")
    to, cc = _addresses(reply.to), _addresses(reply.cc)
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = _one_line(reply.subject)
    msg["Date"] = date or email.utils.formatdate(localtime=False)
    msg["Message-ID"] = deterministic_message_id(reply.in_reply_to, reply.findings_digest, sender)
    msg["In-Reply-To"] = _msgid(reply.in_reply_to)
    refs = [_msgid(r) for r in reply.references if _MSGID_RE.match(_msgid(r))]
    msg["References"] = " ".join(dict.fromkeys(refs or [_msgid(reply.in_reply_to)]))
    # RFC 3834: vacation responders and other bots must not answer an automated reply
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Patchbot-Findings"] = reply.findings_digest
    msg["X-Mailer"] = f"patchbot {__version__}"
    if list_id:
        msg["List-Id"] = list_id
    msg.set_content(
        reply.body, charset="utf-8", cte="8bit" if reply.body.isascii() else "quoted-printable"
    )
    return msg


_MSGID_RE = re.compile(r"^<[^<>\s]+>$")


def _one_line(text: str) -> str:
    """A header value from hostile input: no CR, LF or other control characters."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def _msgid(message_id: str) -> str:
    return bracket(_one_line(message_id).replace(" ", ""))


def _addresses(values: Sequence[str]) -> list[str]:
    """Each address cleaned (patchbot.post.addresses); unusable ones are left out."""
    out = []
    for value in values:
        cleaned = clean_address(value)
        if cleaned is None:
            log.info("left out the unusable recipient %r", value)
        else:
            out.append(cleaned)
    return out


def recipients(msg: EmailMessage) -> list[str]:
    """Every To and Cc address, lower-cased, in order, without duplicates."""
    found: list[str] = []
    for field in ("To", "Cc"):
        for _name, addr in email.utils.getaddresses([str(v) for v in msg.get_all(field, [])]):
            if addr and addr.lower() not in found:
                found.append(addr.lower())
    return found


def as_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=POLICY)


def parse_bytes(data: bytes) -> EmailMessage:
    from email import message_from_bytes

    parsed = message_from_bytes(data, policy=POLICY)
    assert isinstance(parsed, EmailMessage)
    return parsed


def mbox_text(messages: Sequence[EmailMessage]) -> str:
    """Messages as an mboxrd, what `patchbot review` prints and `patchbot post` reads."""
    parts = []
    for msg in messages:
        text = as_bytes(msg).decode("utf-8", "replace").replace("\r\n", "\n")
        lines = [
            (">" + ln if ln.lstrip(">").startswith("From ") else ln) for ln in text.split("\n")
        ]
        parts.append(
            "From patchbot Thu Jan  1 00:00:00 1970\n" + "\n".join(lines).rstrip("\n") + "\n"
        )
    return "\n".join(parts)
