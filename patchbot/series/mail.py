"""Split mailboxes into messages and decode one message into headers and body text.

Mail is hostile input: charsets that do not exist, bytes that do not decode, NUL bytes,
MIME trees with the patch inline or attached, base64 and quoted-printable bodies.
Everything here degrades to U+FFFD plus a warning; nothing raises on bad bytes.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.utils
import re
from dataclasses import dataclass, field
from email.policy import compat32

from patchbot.generate.marker import GENERATED_HEADER

# "From <anything> <weekday> ..." as written by git format-patch, mutt, public-inbox
_SEPARATOR_RE = re.compile(rb"^From \S+\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b")
_SEPARATOR_AT_RE = re.compile(_SEPARATOR_RE.pattern[1:])  # match(data, line start, line end)
_HEADER_RE = re.compile(rb"^[!-9;-~]+:")  # RFC 5322 field name then colon
_MBOXRD_RE = re.compile(r"^>(>*From )", re.MULTILINE)

PATCH_FILENAME_RE = re.compile(r"\.(?:patch|diff|txt)$", re.IGNORECASE)
_TEXT_TYPES = {"text/plain", "text/x-patch", "text/x-diff", "application/x-patch"}


@dataclass
class Message:
    subject: str = ""
    from_name: str = ""
    from_email: str = ""
    date: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    generated_by: str = ""  # the X-Patchbot-Generated header (patchbot/generate/marker.py)
    body: str = ""
    has_headers: bool = True
    warnings: list[str] = field(default_factory=list)


def split_mbox(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split on mbox ``From `` separator lines into (separator, message) pairs.

    A separator line starts the input or follows a blank line.  Input without a
    separator is one message with an empty separator."""
    if b"\r" in data:
        return _split_mbox_by_line(data)  # lines may also end in \r or \r\n
    # Only a line starting "From " can separate: find those at C speed instead of
    # walking every line of every message in Python.
    candidates = [0] if data.startswith(b"From ") else []
    at = data.find(b"\nFrom ")
    while at >= 0:
        candidates.append(at + 1)
        at = data.find(b"\nFrom ", at + 1)
    chunks: list[tuple[bytes, bytes]] = []
    sep = b""
    start = 0  # where the current message began
    for at in candidates:
        end = data.find(b"\n", at) + 1 or len(data)
        previous = data[data.rfind(b"\n", 0, at - 1) + 1 : at] if at else b""
        if previous.strip() or not _SEPARATOR_AT_RE.match(data, at, end):
            continue
        chunks.append((sep, data[start:at]))
        sep = data[at:end].rstrip(b"\r\n")
        start = end  # the separator line is not part of the message
    if data:
        chunks.append((sep, data[start:]))
    return [(s, c) for s, c in chunks if c.strip()]


def _split_mbox_by_line(data: bytes) -> list[tuple[bytes, bytes]]:
    """split_mbox() for input whose lines may end in \r: bytes.splitlines() decides."""
    chunks: list[tuple[bytes, bytes]] = []
    sep = b""
    start: int | None = None
    pos = 0
    prev_blank = True
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and prev_blank and _SEPARATOR_RE.match(line):
            if start is not None:
                chunks.append((sep, data[start:pos]))
            sep = line.rstrip(b"\r\n")
            start = pos + len(line)  # the separator line is not part of the message
        elif start is None and pos == 0:
            start = 0
        prev_blank = line.strip() == b""
        pos += len(line)
    if start is not None:
        chunks.append((sep, data[start:pos]))
    return [(s, c) for s, c in chunks if c.strip()]


def looks_like_message(data: bytes) -> bool:
    """Does this start with mail headers (after an optional mbox separator)?"""
    lines = data.lstrip(b"\r\n").split(b"\n", 2)
    first = lines[0] if lines else b""
    if _SEPARATOR_RE.match(first):
        first = lines[1] if len(lines) > 1 else b""
    return bool(_HEADER_RE.match(first))


def decode_header(raw: object, warnings: list[str], name: str) -> str:
    """RFC 2047 decode, unfold, never raise."""
    if raw is None:
        return ""
    if isinstance(raw, email.header.Header):
        # compat32 wraps headers holding raw 8-bit bytes in a Header (unknown-8bit)
        chunks: list[tuple[bytes | str, str | None]] = email.header.decode_header(raw)
        return _clean("".join(_chunk_text(v, c, warnings, name) for v, c in chunks))
    raw = re.sub(r"\r?\n[ \t]+", " ", str(raw))
    try:
        chunks = email.header.decode_header(raw)
    except Exception:  # malformed encoded-words: keep the raw text
        warnings.append(f"could not decode the {name} header; kept as written")
        return _clean(raw)
    out = [_chunk_text(value, charset, warnings, name) for value, charset in chunks]
    return _clean(" ".join(p.strip() for p in out if p.strip()) if len(out) > 1 else "".join(out))


def _chunk_text(value: bytes | str, charset: str | None, warnings: list[str], name: str) -> str:
    if isinstance(value, str):
        return value
    return _decode_bytes(value, charset, warnings, f"the {name} header")


def _clean(text: str) -> str:
    return " ".join(text.replace("\x00", "").split())


def _decode_bytes(data: bytes, charset: str | None, warnings: list[str], what: str) -> str:
    charset = (charset or "utf-8").strip().lower()
    if charset in ("unknown-8bit", "x-unknown", "us-ascii", "ascii"):
        charset = "utf-8"
    try:
        return data.decode(charset)
    except LookupError:
        warnings.append(f"unknown charset {charset!r} in {what}; undecodable bytes replaced")
        return data.decode("utf-8", "replace")
    except UnicodeDecodeError:
        warnings.append(f"{what} is not valid {charset}; undecodable bytes replaced")
        return data.decode(charset, "replace")


def parse_message(raw: bytes, *, unescape_mboxrd: bool) -> Message:
    """Decode one message; a bare diff (no headers) becomes a body-only Message."""
    if b"\x00" in raw:
        raw = raw.replace(b"\x00", b"")
        warnings = ["NUL bytes removed from the message"]
    else:
        warnings = []
    if not looks_like_message(raw):
        body = _decode_bytes(raw, "utf-8", warnings, "the input")
        return Message(body=_normalise(body), has_headers=False, warnings=warnings)
    msg = _parse_email(raw)
    out = Message(warnings=warnings)
    out.subject = decode_header(msg.get("Subject"), warnings, "Subject")
    name, addr = email.utils.parseaddr(decode_header(msg.get("From"), warnings, "From"))
    out.from_name, out.from_email = name, addr
    out.date = decode_header(msg.get("Date"), warnings, "Date")
    out.message_id = _msgid(msg.get("Message-ID") or msg.get("Message-Id"))
    out.in_reply_to = _msgid(msg.get("In-Reply-To"))
    generated = decode_header(msg.get(GENERATED_HEADER), warnings, GENERATED_HEADER)
    out.generated_by = " ".join(generated.split())
    body = _body_text(msg, warnings)
    if unescape_mboxrd:
        body = _MBOXRD_RE.sub(r"\1", body)
    out.body = _normalise(body)
    return out


def _parse_email(raw: bytes) -> email.message.Message:
    """email.message_from_bytes(), without feeding a plain one-part body to the parser
    line by line (most of the cost for a patch mail): parse the header block alone and
    attach the body as the full parse would, unless the headers ask for parts."""
    end = raw.find(b"\n\n")
    if end < 0 or b"\r" in raw[: end + 2]:
        return email.message_from_bytes(raw, policy=compat32)
    msg = email.message_from_bytes(raw[: end + 1], policy=compat32)
    if msg.get_payload() or msg.defects or msg.get_content_maintype() in ("multipart", "message"):
        # a line that is no header, or a body with parts: leave it all to the parser
        return email.message_from_bytes(raw, policy=compat32)
    msg.set_payload(raw[end + 2 :].decode("ascii", "surrogateescape"))
    return msg


def _msgid(raw: object) -> str:
    if raw is None:
        return ""
    text = re.sub(r"\s+", "", str(raw))
    m = re.search(r"<([^<>]+)>", text)
    return m.group(1) if m else text.strip("<>")


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _body_text(msg: email.message.Message, warnings: list[str]) -> str:
    """The text a patch lives in: every inline text part, then text attachments."""
    parts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename() or ""
        if not isinstance(filename, str):
            filename = str(filename)
        is_text = ctype in _TEXT_TYPES or (
            ctype == "application/octet-stream" and PATCH_FILENAME_RE.search(filename)
        )
        if not is_text:
            if ctype.startswith("text/"):
                continue  # text/html alternatives and signatures carry no patch
            if ctype in ("application/pgp-signature", "application/pkcs7-signature"):
                continue
            named = f" {filename!r}" if filename else ""
            warnings.append(f"ignored a {ctype} attachment{named}")
            continue
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # broken base64 padding and the like
            payload = None
        if payload is None:
            text = part.get_payload()
            payload = text.encode("utf-8", "replace") if isinstance(text, str) else b""
        if not isinstance(payload, bytes):
            continue
        if b"\x00" in payload:
            warnings.append(f"ignored a {ctype} part holding binary data")
            continue
        charset = part.get_content_charset() or "utf-8"
        parts.append(_decode_bytes(payload, charset, warnings, "the message body"))
    return "\n".join(parts)
