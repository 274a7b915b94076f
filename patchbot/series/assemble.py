"""Turn raw mail messages into a Series: classify, parse, order, pick the cover letter.

Replies (``Re:``) are skipped when real patches are present; a reply that is the only
thing given (a review quoting the patch) is linted as far as its quoted diff allows.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass

from patchbot.errors import InputError
from patchbot.series.commitmsg import parse_subject, split_message
from patchbot.series.diffparse import parse_diff
from patchbot.series.mail import Message, parse_message
from patchbot.series.model import Patch, Series


@dataclass
class RawMessage:
    data: bytes
    source: str  # "series.mbox#3", "0002-foo.patch", "stdin"
    unescape_mboxrd: bool = False
    separator: bytes = b""  # the mbox "From ..." line (git format-patch puts the sha there)


def build_patch(msg: Message, source: str) -> tuple[Patch, bool]:
    """One message -> Patch; the bool says whether its subject marks it a reply."""
    subj = parse_subject(msg.subject)
    parts = split_message(msg.body)
    patch = Patch(
        subject=msg.subject,
        title=subj.title or (source if not msg.has_headers else ""),
        tags=subj.tags,
        version=subj.version,
        number=subj.number,
        total=subj.total,
        author_name=msg.from_name,
        author_email=msg.from_email,
        date=parts.in_body_date or msg.date,
        message_id=msg.message_id,
        in_reply_to=msg.in_reply_to,
        generated_by=msg.generated_by,
        body=parts.body,
        trailers=parts.trailers,
        notes=parts.notes,
        diff_text=parts.diff_text,
        source=source,
    )
    if parts.in_body_from:
        patch.author_name, patch.author_email = email.utils.parseaddr(parts.in_body_from)
    patch.warnings.extend(msg.warnings)
    if any(w.startswith("NUL bytes") for w in msg.warnings):
        patch.applicable = False
    if parts.quoted:
        patch.warnings.append("the diff is quoted with '>' (a review reply); quote marks stripped")
        patch.applicable = False
    if parts.diff_text:
        parsed = parse_diff(parts.diff_text)
        patch.files = parsed.files
        patch.warnings.extend(parsed.warnings)
        if parsed.repaired or len(parsed.warnings) > 0:
            patch.applicable = False
    return patch, subj.is_reply


def assemble(raw: list[RawMessage], name: str, *, replies_expected: bool = False) -> Series:
    """The series in ``raw``; replies are skipped, with a warning unless ``replies_expected``
    (a thread fetched for review holds the discussion too: its replies are not news)."""
    series = Series(source=name)
    built: list[tuple[Patch, bool]] = []
    for item in raw:
        msg = parse_message(item.data, unescape_mboxrd=item.unescape_mboxrd)
        patch, is_reply = build_patch(msg, item.source)
        built.append((patch, is_reply))
    have_patches = any(p.diff_text and not reply for p, reply in built)
    candidates: list[Patch] = []
    for patch, is_reply in built:
        if is_reply and (have_patches or not patch.diff_text):
            if not replies_expected:
                series.warnings.append(f"skipped reply {patch.subject[:70]!r} ({patch.source})")
            continue
        candidates.append(patch)
    _pick_cover(series, candidates)
    patches = [p for p in candidates if p is not series.cover]
    with_diff = [p for p in patches if p.diff_text]
    for p in patches:
        if not p.diff_text:
            series.warnings.append(
                f"skipped a message with no diff: {p.subject[:70]!r} ({p.source})"
            )
    with_diff = _latest_version(series, with_diff)
    series.patches = _order(series, with_diff)
    if not series.patches:
        raise InputError(f"no patches found in {name}")
    if not any(p.files for p in series.patches):
        raise InputError(f"nothing left to lint in {name}: every file diff was unusable")
    return series


def _pick_cover(series: Series, candidates: list[Patch]) -> None:
    """The cover letter is [PATCH 0/M]; failing that, in a numbered series, an
    unnumbered message with no diff.  A numbered N/M without a diff is not a cover."""
    numbered = any(p.number for p in candidates)
    zero = [p for p in candidates if p.number == 0]
    loose = [p for p in candidates if numbered and p.number is None and not p.diff_text]
    for p in zero[:1] or loose[:1]:
        p.is_cover = True
        series.cover = p


def _latest_version(series: Series, patches: list[Patch]) -> list[Patch]:
    versions = {p.version for p in patches}
    if len(versions) <= 1:
        return patches
    newest = max(versions)
    series.warnings.append(f"the input mixes versions {sorted(versions)}; linting v{newest} only")
    return [p for p in patches if p.version == newest]


def _order(series: Series, patches: list[Patch]) -> list[Patch]:
    """Sort by N of N/M (stable: unnumbered patches keep input order, after numbered)."""
    seen: dict[int, Patch] = {}
    out: list[Patch] = []
    for p in patches:
        if p.number is not None:
            if p.number in seen:
                series.warnings.append(
                    f"two patches numbered {p.number}; kept {seen[p.number].source}, "
                    f"skipped {p.source}"
                )
                continue
            seen[p.number] = p
        out.append(p)
    out.sort(key=lambda p: (p.number is None, p.number or 0))
    totals = {p.total for p in out if p.total is not None}
    if len(totals) == 1:
        total = totals.pop()
        missing = sorted(set(range(1, total + 1)) - set(seen))
        if missing and len(missing) <= 50:
            series.warnings.append(f"patches missing from the series: {missing} of {total}")
        elif missing:
            series.warnings.append(f"{len(missing)} of {total} patches missing from the series")
    return out
