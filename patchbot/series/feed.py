"""Poll a public-inbox Atom feed (``new.atom``, or a search ``?q=...&x=A``) for patches.

public-inbox writes one ``<entry>`` per message: the subject as ``<title>``, the message
URL (``BASE/<escaped Message-ID>/``) as ``<link href>``, and ``<thr:in-reply-to href>``
for a reply.  parse_feed() turns that into FeedEntry objects; patch_threads() keeps the
threads that carry patches (a [PATCH] subject that is not a reply) and names each by the
message it hangs off, which is what the bot fetches as ``t.mbox.gz``.
newest_revision() asks the archive's search for later versions of a series (a v2 is
usually posted as a new thread with the same title, sometimes in reply to v1).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import requests

from patchbot.errors import InputError
from patchbot.series.commitmsg import parse_subject
from patchbot.series.model import Series

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
THR = "{http://purl.org/syndication/thread/1.0}"
MAX_FEED_BYTES = 16 << 20


@dataclass(frozen=True)
class FeedEntry:
    message_id: str  # without <>
    subject: str
    author: str  # address
    updated: str
    in_reply_to: str | None  # without <>


def _mid_from_href(href: str) -> str:
    segments = [s for s in urlsplit(href).path.split("/") if s]
    if not segments:
        raise ValueError(href)
    return unquote(segments[-1])


def parse_feed(data: bytes, where: str = "feed") -> list[FeedEntry]:
    """Entries of an Atom feed, oldest first; InputError when it is not an Atom feed."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"{where}: malformed Atom feed ({exc})") from None
    if root.tag != f"{ATOM}feed":
        raise InputError(f"{where}: not an Atom feed (root element {root.tag!r})")
    entries = []
    for entry in root.iter(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link")
        href = link.get("href") if link is not None else None
        if not href:
            raise InputError(f"{where}: malformed Atom feed (an entry has no link)")
        try:
            mid = _mid_from_href(href)
            parent = entry.find(f"{THR}in-reply-to")
            parent_href = parent.get("href") if parent is not None else None
            irt = _mid_from_href(parent_href) if parent_href else None
        except ValueError:
            raise InputError(f"{where}: malformed Atom feed (link {href!r})") from None
        entries.append(
            FeedEntry(
                message_id=mid,
                subject=" ".join((entry.findtext(f"{ATOM}title") or "").split()),
                author=(entry.findtext(f"{ATOM}author/{ATOM}email") or "").strip(),
                updated=(entry.findtext(f"{ATOM}updated") or "").strip(),
                in_reply_to=irt,
            )
        )
    entries.sort(key=lambda e: e.updated)  # the feed lists newest first
    return entries


def fetch_feed(
    url: str, *, timeout: float = 30.0, session: requests.Session | None = None, where: str = ""
) -> list[FeedEntry]:
    http = session or requests.Session()
    try:
        resp = http.get(url, timeout=timeout)
    except requests.RequestException as exc:
        text = str(exc).strip().splitlines()
        raise InputError(f"{url}: {type(exc).__name__}: {text[0] if text else ''}") from None
    if resp.status_code == 404:
        return []  # public-inbox: an empty inbox (or a search without hits) is a 404
    if resp.status_code != 200:
        raise InputError(f"{url}: HTTP {resp.status_code} {resp.reason}")
    if len(resp.content) > MAX_FEED_BYTES:
        raise InputError(f"{url}: the feed is over {MAX_FEED_BYTES} bytes")
    return parse_feed(resp.content, where or url)


def new_atom_url(base: str) -> str:
    return f"{base.rstrip('/')}/new.atom"


def is_patch(entry: FeedEntry) -> bool:
    subj = parse_subject(entry.subject)
    return not subj.is_reply and any(t.upper() == "PATCH" for t in subj.tags)


def patch_threads(entries: list[FeedEntry]) -> list[str]:
    """Message-IDs to fetch each patch thread by, one per thread, oldest thread first.

    A patch is named by the top of its In-Reply-To chain as far as the feed shows it; the
    archive's t.mbox.gz returns the whole thread from any of its messages anyway, so a
    chain that leaves the feed window only costs a second name for the same thread,
    which the caller folds by the thread's own root.
    """
    parent = {e.message_id: e.in_reply_to for e in entries}
    roots: dict[str, None] = {}
    for entry in entries:
        if not is_patch(entry):
            continue
        mid, hops = entry.message_id, 0
        while parent.get(mid) and hops < 100:
            mid, hops = parent[mid] or mid, hops + 1
        roots.setdefault(mid, None)
    return list(roots)


def series_title(series: Series) -> str:
    first = series.cover or (series.patches[0] if series.patches else None)
    return first.title if first else ""


def series_version(series: Series) -> int:
    return max((p.version for p in series.patches), default=1)


def newest_revision(
    base: str, series: Series, *, timeout: float = 30.0, session: requests.Session | None = None
) -> str | None:
    """The Message-ID of a later version of ``series`` in the archive, or None.

    Searches for the title (Xapian ``s:``) and keeps non-reply patch messages with the
    same title, a higher vN and the same author.
    """
    title = series_title(series)
    if not title:
        return None
    first = series.cover or series.patches[0]
    phrase = title.replace('"', " ")
    query = quote('s:"' + phrase + '"', safe="")
    url = f"{base.rstrip('/')}/?q={query}&x=A"
    best: tuple[int, str] | None = None
    for entry in fetch_feed(url, timeout=timeout, session=session):
        subj = parse_subject(entry.subject)
        if subj.is_reply or subj.title != title or subj.version <= series_version(series):
            continue
        if first.author_email and entry.author.lower() != first.author_email.lower():
            continue
        if best is None or subj.version > best[0]:
            best = (subj.version, entry.message_id)
    return best[1] if best else None
