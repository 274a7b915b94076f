"""Fetch a patch thread from a public-inbox archive (lore.kernel.org and friends).

public-inbox serves every thread as ``<base>/<message-id>/t.mbox.gz`` (mboxrd).  The
download is streamed and decompressed with a cap on the decompressed size, so neither a
huge thread nor a gzip bomb can exhaust memory.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

import requests

from patchbot.errors import InputError
from patchbot.series.assemble import assemble
from patchbot.series.load import messages_from_bytes, read_tree_images
from patchbot.series.model import Series

log = logging.getLogger(__name__)

_TAIL_SEGMENTS = {"t.mbox.gz", "raw", "T", "t", "mbox.gz", "t.atom"}


def split_reference(ref: str, base: str | None = None) -> tuple[str, str]:
    """``(base, message_id)`` from a Message-ID (needs ``base``) or a thread URL."""
    ref = ref.strip()
    if ref.startswith(("http://", "https://")):
        parts = urlsplit(ref)
        segments = [s for s in parts.path.split("/") if s]
        while segments and segments[-1] in _TAIL_SEGMENTS:
            segments.pop()
        if len(segments) < 1:
            raise InputError(f"{ref}: no Message-ID in this archive URL")
        message_id = unquote(segments[-1])
        prefix = "/".join(segments[:-1])
        url_base = f"{parts.scheme}://{parts.netloc}/{prefix}".rstrip("/")
        return (base or url_base).rstrip("/"), message_id.strip("<>")
    if not base:
        raise InputError(
            f'{ref}: give the archive URL (--archive BASE, or archive = "URL" in '
            ".patchbot.toml) to fetch a Message-ID"
        )
    return base.rstrip("/"), ref.strip("<>")


def thread_url(base: str, message_id: str) -> str:
    if not message_id or any(c.isspace() for c in message_id):
        raise InputError(f"{message_id!r} is not a Message-ID")
    # public-inbox escapes '/' in Message-IDs; keep '@' and the usual id characters
    return f"{base.rstrip('/')}/{quote(message_id, safe='@!$&()*+,;=:~._-')}/t.mbox.gz"


def fetch_thread(
    base: str,
    message_id: str,
    *,
    timeout: float = 30.0,
    max_bytes: int = 64 << 20,
    session: requests.Session | None = None,
) -> bytes:
    """The thread's mbox, decompressed; InputError for anything that goes wrong."""
    url = thread_url(base, message_id)
    http = session or requests.Session()
    log.info("fetching %s", url)
    try:
        with http.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code == 404:
                raise InputError(f"<{message_id}> not found in the archive {base}")
            if resp.status_code != 200:
                raise InputError(f"{url}: HTTP {resp.status_code} {resp.reason}")
            return _gunzip_capped(resp.iter_content(64 << 10), max_bytes, url)
    except requests.RequestException as exc:
        raise InputError(f"{url}: {type(exc).__name__}: {_first_line(exc)}") from None


def raw_url(base: str, message_id: str) -> str:
    return thread_url(base, message_id).removesuffix("/t.mbox.gz") + "/raw"


def message_exists(
    base: str, message_id: str, *, timeout: float = 30.0, session: requests.Session | None = None
) -> bool:
    """Whether the archive holds ``message_id`` (GET /raw: 200 yes, 404 no).

    Anything else (unreachable, 5xx) is an InputError: the caller must not guess, since
    guessing "no" could post a reply twice.
    """
    url = raw_url(base, message_id.strip().strip("<>"))
    http = session or requests.Session()
    try:
        with http.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code == 404:
                return False
            if resp.status_code == 200:
                return True
            raise InputError(f"{url}: HTTP {resp.status_code} {resp.reason}")
    except requests.RequestException as exc:
        raise InputError(f"{url}: {type(exc).__name__}: {_first_line(exc)}") from None


def fetch_raw(
    base: str,
    message_id: str,
    *,
    timeout: float = 30.0,
    max_bytes: int = 16 << 20,
    session: requests.Session | None = None,
) -> bytes:
    """One message as the archive stores it; InputError on 404 and every failure."""
    url = raw_url(base, message_id.strip().strip("<>"))
    http = session or requests.Session()
    try:
        with http.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code == 404:
                raise InputError(f"<{message_id.strip('<>')}> not found in the archive {base}")
            if resp.status_code != 200:
                raise InputError(f"{url}: HTTP {resp.status_code} {resp.reason}")
            out = bytearray()
            for chunk in resp.iter_content(64 << 10):
                out += chunk
                if len(out) > max_bytes:
                    raise InputError(f"{url}: the message is over {max_bytes} bytes")
            return bytes(out)
    except requests.RequestException as exc:
        raise InputError(f"{url}: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "request failed"


def _gunzip_capped(chunks: Iterable[bytes], max_bytes: int, url: str) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip wrapper
    out: list[bytes] = []
    size = 0
    try:
        for data in chunks:
            while data:
                piece = inflater.decompress(data, max_bytes - size + 1)
                size += len(piece)
                out.append(piece)
                if size > max_bytes:
                    raise InputError(
                        f"{url}: the thread is over the input limit of {max_bytes} bytes"
                    )
                data = inflater.unconsumed_tail
        tail = inflater.flush()
        if size + len(tail) > max_bytes:
            raise InputError(f"{url}: the thread is over the input limit of {max_bytes} bytes")
        out.append(tail)
    except zlib.error as exc:
        raise InputError(f"{url}: not a gzip mbox ({exc})") from None
    return b"".join(out)


def load_thread(
    ref: str,
    *,
    base: str | None = None,
    tree: str | None = None,
    timeout: float = 30.0,
    max_bytes: int = 64 << 20,
) -> Series:
    """A series from the archived thread ``ref`` (URL, or Message-ID with ``base``)."""
    archive, message_id = split_reference(ref, base)
    data = fetch_thread(archive, message_id, timeout=timeout, max_bytes=max_bytes)
    name = f"<{message_id}>"
    series = assemble(messages_from_bytes(data, name), name)
    if tree is not None:
        read_tree_images(series, tree)
    return series
