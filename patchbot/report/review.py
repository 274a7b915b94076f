"""A plain-text review reply to each patch email, the way a reviewer writes one.

For every patch with findings: ``On <date>, <author> wrote:``, then for each finding the
diff lines leading up to it quoted with ``> `` (trimmed to a few lines, with the file's
diff header once), the comment under the quoted line, and a ``-- `` signature.  The
quoting, trimming and wrapping are patchbot.review.quote's, shared with the mails that
``patchbot review`` sends (patchbot.review.compose).  Findings
that do not sit on a diff line (commit message, series-wide) come after the quotes.
Replies for several patches are separated as an mbox, ready for a mail client.
"""

from __future__ import annotations

from patchbot.api import Finding
from patchbot.engine import LintResult
from patchbot.report.common import group_by_patch, reply_subject
from patchbot.review.comments import comment_lines
from patchbot.review.quote import COMMIT_MSG, CONTEXT_LINES, WRAP, quote_patch
from patchbot.series.model import Patch

__all__ = ["CONTEXT_LINES", "SIGNATURE", "WRAP", "render", "reply_body", "reply_message"]

SIGNATURE = "-- \npatchbot"


def _comment(finding: Finding, heuristics: frozenset[str] = frozenset()) -> list[str]:
    return comment_lines(finding, finding.rule in heuristics)


def reply_body(
    patch: Patch, findings: list[Finding], heuristics: frozenset[str] = frozenset()
) -> str:
    """The reply to one patch; quoting, trimming and wrapping are patchbot.review.quote's."""
    author = (
        f"{patch.author_name} <{patch.author_email}>"
        if patch.author_email
        else (patch.author_name or "the author")
    )
    quoted = quote_patch(patch, findings, lambda f: _comment(f, heuristics), full_header=False)
    out = [f"On {patch.date or 'an unknown date'}, {author} wrote:", *quoted.lines]
    if quoted.lines:
        out.append("")
    if quoted.loose:
        if any(ln.startswith("> diff --git") for ln in quoted.lines):
            out += ["Also:", ""]
        for finding in quoted.loose:
            if finding.path and finding.path != COMMIT_MSG:  # on its own line: keeps the wrap
                out.append(f"{finding.path}:{finding.line}:")
            out += [*_comment(finding, heuristics), ""]
    out.append(SIGNATURE)
    return "\n".join(out) + "\n"


def reply_message(
    patch: Patch, findings: list[Finding], heuristics: frozenset[str] = frozenset()
) -> str:
    headers = [f"Subject: {reply_subject(patch.subject)}"]
    if patch.message_id:
        mid = patch.message_id if patch.message_id.startswith("<") else f"<{patch.message_id}>"
        headers += [f"In-Reply-To: {mid}", f"References: {mid}"]
    return "\n".join(headers) + "\n\n" + reply_body(patch, findings, heuristics)


def render(result: LintResult) -> str:
    heuristics = frozenset(r.id for r in result.rules if r.rule.confidence == "heuristic")
    replies = [
        reply_message(patch, findings, heuristics)
        for patch, findings in group_by_patch(result.findings, result.series)
        if patch is not None
    ]
    orphans = [
        f
        for patch, fs in group_by_patch(result.findings, result.series)
        if patch is None
        for f in fs
    ]
    if len(replies) == 1 and not orphans:
        return replies[0]
    parts = [f"From patchbot Thu Jan  1 00:00:00 1970\n{reply}" for reply in replies]
    if orphans:  # --file mode or series-wide findings: no email to reply to
        body = ["patchbot findings without a patch to reply to:", ""]
        for finding in orphans:
            body += [
                f"{finding.path}:{finding.line}: " + _comment(finding)[0],
                *_comment(finding)[1:],
                "",
            ]
        parts.append("\n".join(body) + SIGNATURE + "\n")
    return "\n".join(parts) if parts else "patchbot: no findings, nothing to reply to\n"
