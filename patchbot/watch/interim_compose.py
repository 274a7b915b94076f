"""Interim review mails until patchbot.review.compose (helper C1) lands.

Builds objects with the fields of the contract's ReviewMail from the existing plain-text
reply of patchbot.report.review, so posting, the ledger and the bot can be tested end to
end.  compose.py replaces this; see replies.py.
"""

from __future__ import annotations

import email.utils
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from patchbot.api import Finding
from patchbot.engine import LintResult
from patchbot.report.common import count_summary, group_by_patch
from patchbot.report.review import reply_body
from patchbot.series.model import Patch
from patchbot.watch.thread import Thread


@dataclass(frozen=True)
class InterimMail:
    kind: str
    patch_index: int | None
    in_reply_to: str
    references: list[str]
    subject: str
    to: list[str]
    cc: list[str]
    body: str
    findings_digest: str


def digest(findings: Sequence[Finding]) -> str:
    keys = sorted((f.rule, f.path, str(f.line), f.message) for f in findings)
    return hashlib.sha256("\n".join("\0".join(k) for k in keys).encode()).hexdigest()


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def compose(
    thread: Thread, result: LintResult, *, sender: str, reproduce: str | None = None
) -> list[InterimMail]:
    me = email.utils.parseaddr(sender)[1].lower()
    mails = []
    groups = [(p, fs) for p, fs in group_by_patch(result.findings, thread.series) if p]
    for patch, findings in groups:
        mails.append(_mail(thread, patch, "patch", patch.number, findings, me, reproduce))
    cover = thread.series.cover
    if cover is not None and groups:
        lines = [f"Thanks for the series. patchbot found {count_summary(result.findings)}:", ""]
        lines += [f"  [{p.label}] {p.title}: {count_summary(fs)}" for p, fs in groups]
        lines += ["", "Details are in the replies to each patch."]
        mails.append(
            _mail(thread, cover, "cover", None, result.findings, me, reproduce, "\n".join(lines))
        )
    return mails


def _mail(
    thread: Thread,
    patch: Patch,
    kind: str,
    index: int | None,
    findings: Sequence[Finding],
    me: str,
    reproduce: str | None,
    text: str | None = None,
) -> InterimMail:
    head = thread.headers_of(patch)
    body = text if text is not None else reply_body(patch, list(findings))
    if reproduce:  # above the signature, where a mail client keeps it when quoting
        text_part, sig, tail = body.rpartition("\n-- \n")
        footer = f"\nReproduce locally: {reproduce}\n"
        body = text_part + footer + sig + tail if sig else body.rstrip("\n") + "\n" + footer
    author = email.utils.parseaddr(head.sender)[1].lower()
    cc: list[str] = []
    seen: set[str] = set()
    for addr in head.to + head.cc:
        bare = email.utils.parseaddr(addr)[1].lower()
        if bare not in (author, me) and bare not in seen:
            seen.add(bare)
            cc.append(addr)
    mid = f"<{patch.message_id.strip('<>')}>"
    return InterimMail(
        kind=kind,
        patch_index=index,
        in_reply_to=mid,
        references=[*head.references, mid],
        subject=_re(patch.subject),
        to=[head.sender] if head.sender else [],
        cc=cc,
        body=body,
        findings_digest=digest(findings),
    )
