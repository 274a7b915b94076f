"""Mail addresses from hostile headers, made safe to write into a reply.

A display name is RFC 2047-decoded, so ``=?utf-8?b?...?=`` can carry CR, LF, tab or NUL:
written back into a header that would start a new header line (``Bcc: victim``), and
Python's email package refuses it with ValueError (the bot then crashed on the same thread
after every restart).  clean_address() decodes the name, folds every control character
to a space and re-encodes it; an address whose addr-spec is not ``local@domain`` is
dropped.  problem() says in one line what is wrong with an address header of a prepared
reply (`patchbot post`), so it is refused before anything is sent.
"""

from __future__ import annotations

import email.header
import email.utils
import re

# local part: no whitespace, controls, brackets or separators; domain: dot-separated labels
# (a literal [1.2.3.4] is not used on the lists patchbot answers)
_LOCAL = r"[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
ADDR_SPEC = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*$")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")


def decode_name(name: str) -> str:
    """The display name as a reader sees it, with no control characters left."""
    try:
        text = str(email.header.make_header(email.header.decode_header(name)))
    except Exception:  # malformed encoded-words or charsets: keep what was written
        text = name
    return " ".join(_CONTROLS.sub(" ", text).split())


def valid_addr_spec(addr: str) -> bool:
    return bool(ADDR_SPEC.match(addr))


def clean_address(text: str) -> str | None:
    """``Name <local@domain>`` safe for a header, or None when there is no usable address."""
    if _CONTROLS.search(text.replace("\t", " ")):
        text = _CONTROLS.sub(" ", text)
    name, addr = email.utils.parseaddr(text)
    if not valid_addr_spec(addr):
        return None
    return email.utils.formataddr((decode_name(name), addr))


def clean_addresses(values: list[str]) -> list[str]:
    """Every usable address in ``values`` (header values, each possibly a list)."""
    out = []
    for name, addr in email.utils.getaddresses(values):
        cleaned = clean_address(email.utils.formataddr((name, addr))) if addr else None
        if cleaned:
            out.append(cleaned)
    return out


def problem(header: str, value: str) -> str | None:
    """Why the address header ``header: value`` cannot be sent as it is (None: it can)."""
    if not value.strip():
        return f"the {header} header is empty"
    pairs = email.utils.getaddresses([value])
    if not any(addr for _name, addr in pairs):
        return f"{header}: no address in {value!r}"
    for name, addr in pairs:
        if not valid_addr_spec(addr):
            return f"{header}: {addr or name!r} is not a local@domain address"
        if _CONTROLS.search(_decoded(name)):
            return f"{header}: the name of <{addr}> holds control characters (CR, LF, tab)"
    return None


def _decoded(name: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(name)))
    except Exception:
        return name
