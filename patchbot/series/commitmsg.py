"""Pieces of one patch mail: subject prefix, commit message, trailers, notes, diff.

Conventions (shared with the git-range loader):
  * ``body`` is the commit message without the title line, from its first non-blank
    line down to (not including) the first line that is exactly ``---``;
  * trailer line numbers are 1-based inside that body;
  * ``notes`` is what sits between ``---`` and the diff (changelog, diffstat);
  * ``diff_text`` runs from the first diff header to the end, minus the ``-- ``
    signature that git format-patch appends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from patchbot.series.diffparse import is_diff_start
from patchbot.series.model import Trailer

REPLY_RE = re.compile(r"^\s*(?:re|aw|sv|antw|odp|vs|fw|fwd|wg)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_BRACKET_RE = re.compile(r"^\s*\[([^\]]*)\]\s*")
_NUMBER_RE = re.compile(r"^(\d+)/(\d+)$")
_VERSION_RE = re.compile(r"^[vV](\d+)$")
TRAILER_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*):[ \t]+(\S.*)$")
_QUOTE_RE = re.compile(r"^(?:> ?)+")


@dataclass
class Subject:
    title: str
    tags: list[str] = field(default_factory=list)
    version: int = 1
    number: int | None = None
    total: int | None = None
    is_reply: bool = False


def parse_subject(subject: str) -> Subject:
    """``[PATCH RFC v4 10/44] mm: foo`` -> tags, version, number, total, title."""
    is_reply = bool(REPLY_RE.match(subject))
    rest = subject
    while REPLY_RE.match(rest):
        rest = REPLY_RE.sub("", rest, count=1)
    out = Subject(title="", is_reply=is_reply)
    while True:
        m = _BRACKET_RE.match(rest)
        if not m:
            break
        rest = rest[m.end() :]
        for token in m.group(1).replace(",", " ").split():
            num = _NUMBER_RE.match(token)
            ver = _VERSION_RE.match(token)
            if num:
                out.number, out.total = int(num.group(1)), int(num.group(2))
            elif ver:
                out.version = int(ver.group(1))
            else:
                out.tags.append(token)
    out.title = rest.strip()
    return out


@dataclass
class MessageParts:
    body: str = ""
    trailers: list[Trailer] = field(default_factory=list)
    notes: str = ""
    diff_text: str = ""
    in_body_from: str = ""  # a "From: Name <addr>" first body line (patch sent for someone)
    in_body_date: str = ""
    quoted: bool = False  # the diff was quoted with "> " and has been unquoted


def split_message(text: str) -> MessageParts:
    """Split a patch mail body (or a git commit message + diff) into its parts."""
    lines = text.split("\n")
    parts = MessageParts()
    start = _skip_in_body_headers(lines, parts)
    diff_at = _find_diff_start(lines, start)
    if diff_at is None:
        unquoted = _unquote_diff(lines[start:])
        if unquoted is not None:
            lines = lines[:start] + unquoted
            diff_at = _find_diff_start(lines, start)
            parts.quoted = diff_at is not None
    end = diff_at if diff_at is not None else len(lines)
    sep = None
    for k in range(start, end):
        if lines[k] == "---":
            sep = k
            break
    body_lines = lines[start : sep if sep is not None else end]
    while body_lines and not body_lines[0].strip():
        body_lines.pop(0)
    while body_lines and not body_lines[-1].strip():
        body_lines.pop()
    parts.body = "\n".join(body_lines)
    parts.trailers = find_trailers(body_lines)
    if sep is not None:
        parts.notes = "\n".join(lines[sep + 1 : end]).strip("\n")
    if diff_at is not None:
        parts.diff_text = strip_signature(lines[diff_at:])
    return parts


def _skip_in_body_headers(lines: list[str], parts: MessageParts) -> int:
    """git format-patch puts From:/Date:/Subject: at the top when the sender differs."""
    k = 0
    while k < len(lines) and not lines[k].strip():
        k += 1
    seen = False
    while k < len(lines):
        line = lines[k]
        if line.startswith("From: "):
            parts.in_body_from = line[6:].strip()
        elif line.startswith("Date: "):
            parts.in_body_date = line[6:].strip()
        elif not line.startswith("Subject: "):
            break
        seen = True
        k += 1
    if seen and k < len(lines) and not lines[k].strip():
        k += 1
    return k if seen else 0


def _find_diff_start(lines: list[str], start: int) -> int | None:
    for k in range(start, len(lines)):
        line = lines[k]
        if line.startswith("diff --git "):
            return k
        if (
            line.startswith("--- ")
            and k + 1 < len(lines)
            and lines[k + 1].startswith("+++ ")
            and k + 2 < len(lines)
            and lines[k + 2].startswith("@@ ")
        ):
            return k
        if line.startswith("Index: ") and is_diff_start(line):
            nxt = lines[k + 1] if k + 1 < len(lines) else ""
            if nxt.startswith("===="):
                return k
    return None


def _unquote_diff(lines: list[str]) -> list[str] | None:
    """A review reply quotes the patch with '> ', '>' or '> > '.  When the quoted text
    holds a diff, return the lines with the quote prefix stripped; from the quoted diff
    on, the reviewer's own (unquoted) lines are dropped so they do not split hunks.
    None when no quoted diff is found."""
    diff_at = None
    depth = 0
    for k, line in enumerate(lines):
        m = _QUOTE_RE.match(line)
        if m and line[m.end() :].startswith(("diff --git ", "--- a/", "@@ -")):
            diff_at, depth = k, m.group().count(">")
            break
    if diff_at is None:
        return None
    out: list[str] = []
    for k, line in enumerate(lines):
        m = _QUOTE_RE.match(line)
        if k < diff_at:
            out.append(line[m.end() :] if m else line)
        elif m and m.group().count(">") >= depth:
            # In a reply to a review ("> > " diff), the "> " lines are the first
            # reviewer's comments: as diff lines they would split hunks or pass for
            # context, so from the diff on only the diff's own quote depth is kept.
            out.append(line[m.end() :])
    return out


def strip_signature(lines: list[str]) -> str:
    """Drop the ``-- `` mail signature (git version) and trailing blank lines.

    Only a ``-- `` line near the end counts: inside a diff the same text is a removed
    line."""
    end = len(lines)
    for k in range(len(lines) - 1, max(len(lines) - 8, -1), -1):
        if lines[k] == "-- ":
            end = k
            break
    kept = lines[:end]
    while kept and kept[-1] in ("", "\r"):  # " " is an empty context line: keep it
        kept.pop()
    return "\n".join(kept) + ("\n" if kept else "")


def find_trailers(body_lines: list[str]) -> list[Trailer]:
    """Trailers are the last paragraph when it is made of ``Key-Word: value`` lines
    (plus the odd ``[ maintainer note ]`` or continuation line)."""
    k = len(body_lines)
    para_start = k
    while para_start > 0 and body_lines[para_start - 1].strip():
        para_start -= 1
    trailers: list[Trailer] = []
    others = 0
    for idx in range(para_start, k):
        line = body_lines[idx]
        m = TRAILER_RE.match(line)
        if m and not m.group(1).lower().startswith("http"):
            trailers.append(Trailer(m.group(1), m.group(2).strip(), idx + 1))
        elif line.startswith((" ", "\t", "[", "(")):
            continue
        else:
            others += 1
    if not trailers or others > len(trailers):
        return []
    return trailers
