"""A thread fetched from the archive: the assembled Series plus each message's headers.

The Series model keeps what the rules need; a reply also needs the reviewed message's
To, Cc and References, so they are read here from the same mbox.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from patchbot.errors import InputError
from patchbot.post.addresses import clean_addresses
from patchbot.series.archive import fetch_thread
from patchbot.series.assemble import assemble
from patchbot.series.load import messages_from_bytes, read_capped, read_tree_images
from patchbot.series.model import Patch, Series

_CHANGE_ID_RE = re.compile(r"^change-id:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Headers:
    sender: str  # From, as written
    to: list[str]
    cc: list[str]
    references: list[str]  # each with <>
    list_id: str | None


@dataclass
class Thread:
    base: str  # the archive it came from; "" for a local file
    message_id: str  # the one it was fetched by, without <>
    series: Series
    headers: dict[str, Headers] = field(default_factory=dict)  # bare Message-ID -> headers
    source: str | None = None  # the local mbox it was read from (`review FILE`)

    def headers_of(self, patch: Patch) -> Headers:
        found = self.headers.get(patch.message_id.strip("<>"))
        if found is None:
            raise InputError(f"{patch.subject!r}: its headers are missing from the thread")
        return found


def _addresses(msg: Message, name: str) -> list[str]:
    """Usable addresses only, names decoded and cleaned: they go into our replies' headers."""
    return clean_addresses([str(v) for v in msg.get_all(name, [])])


def header_index(data: bytes) -> dict[str, Headers]:
    parser = BytesHeaderParser(policy=compat32)
    index: dict[str, Headers] = {}
    for raw in messages_from_bytes(data, "thread"):
        msg = parser.parsebytes(raw.data)
        mid = " ".join(str(msg.get("Message-ID", "")).split()).strip().strip("<>")
        if not mid:
            continue
        refs = re.findall(r"<[^<>\s]+>", str(msg.get("References", "")))
        index[mid] = Headers(
            sender=next(iter(_addresses(msg, "From")), ""),
            to=_addresses(msg, "To"),
            cc=_addresses(msg, "Cc"),
            references=refs,
            list_id=str(msg["List-Id"]) if msg.get("List-Id") else None,
        )
    return index


def load(base: str, message_id: str, *, tree: str | None = None) -> Thread:
    mid = message_id.strip().strip("<>")
    data = fetch_thread(base, mid)
    name = f"<{mid}>"
    series = assemble(messages_from_bytes(data, name), name, replies_expected=True)
    if tree is not None:
        read_tree_images(series, tree)
    return Thread(base=base, message_id=mid, series=series, headers=header_index(data))


MAX_FILE = 64 << 20  # as `patchbot lint` reads a series


def load_file(path: str, *, tree: str | None = None) -> Thread:
    """A thread from a local mbox (`patchbot review FILE`): what load() makes of an
    archived thread, so the replies are the same ones, with the same Message-IDs."""
    try:
        with open(path, "rb") as handle:
            data = read_capped(handle, MAX_FILE)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}") from None
    series = assemble(messages_from_bytes(data, path), path, replies_expected=True)
    if tree is not None:
        read_tree_images(series, tree)
    first = series.cover or series.patches[0]
    if not first.message_id.strip("<> "):
        raise InputError(
            f"{path}: the patches carry no Message-ID, so there is nothing to reply to"
        )
    mid = first.message_id.strip().strip("<>")
    return Thread(base="", message_id=mid, series=series, headers=header_index(data), source=path)


def series_key(series: Series) -> str:
    """What stays the same across revisions: b4's change-id, else author and title."""
    first = series.cover or series.patches[0]
    found = _CHANGE_ID_RE.search(first.notes + "\n" + first.body)
    if found:
        return f"change-id:{found.group(1)}"
    return f"{first.author_email.lower()}:{' '.join(first.title.lower().split())}"


def revision(series: Series) -> str:
    """A digest of exactly what was reviewed: each message's id and diff."""
    digest = hashlib.sha256()
    for patch in ([series.cover] if series.cover else []) + series.patches:
        digest.update(patch.message_id.encode() + b"\0" + patch.diff_text.encode() + b"\0")
    return digest.hexdigest()


def complete(series: Series) -> bool:
    """All N of N/M arrived (an unnumbered single patch is complete)."""
    totals = {p.total for p in series.patches if p.total}
    if not totals:
        return bool(series.patches)
    total = max(totals)
    return {p.number for p in series.patches} >= set(range(1, total + 1))
