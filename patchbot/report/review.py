"""A plain-text review reply to each patch email, the way a reviewer writes one.

For every patch with findings: ``On <date>, <author> wrote:``, then for each finding the
diff lines leading up to it quoted with ``> `` (trimmed to a few lines, with the file's
diff header once), the comment under the quoted line, and a ``-- `` signature.  Findings
that do not sit on a diff line (commit message, series-wide) come after the quotes.
Replies for several patches are separated as an mbox, ready for a mail client.
"""

from __future__ import annotations

import textwrap

from patchbot.api import Finding
from patchbot.engine import LintResult
from patchbot.report.common import group_by_patch
from patchbot.series.model import DiffLine, FileDiff, Hunk, Patch

CONTEXT_LINES = 3  # quoted lines before the commented one
WRAP = 72  # mail on the kernel lists is read as plain text wrapped near 72 columns
SIGNATURE = "-- \npatchbot"
COMMIT_MSG = "COMMIT_MSG"  # pseudo path of commit-message findings (see patchbot.patterns)


def _commit_text(patch: Patch, line: int) -> str | None:
    """Line ``line`` of the commit message as `git commit` shows it: title, blank, body."""
    if line == 1:
        return patch.title or patch.subject
    body = patch.body.split("\n")
    if 3 <= line < len(body) + 3:
        return body[line - 3]
    return None


def _locate(patch: Patch, finding: Finding) -> tuple[FileDiff, Hunk, int] | None:
    """The diff file, hunk and index of the line the finding sits on."""
    for diff in patch.files:
        if finding.path not in (diff.new_path, diff.old_path):
            continue
        for hunk in diff.hunks:
            for index, line in enumerate(hunk.lines):
                if line.new_no == finding.line and line.kind in "+ ":
                    return diff, hunk, index
    return None


def _quote(line: DiffLine) -> str:
    return f"> {line.kind}{line.text}".rstrip()


def _wrapped(text: str, indent: str = "") -> list[str]:
    """Wrap one paragraph; paths and identifiers are never split inside a word."""
    return textwrap.wrap(
        text,
        WRAP,
        initial_indent=indent,
        subsequent_indent=indent + "  " if indent else "",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _comment(finding: Finding) -> list[str]:
    lines = _wrapped(f"{finding.message} [{finding.rule}]")
    for loc in finding.related:
        lines += _wrapped(f"See {loc.path}:{loc.line}: {loc.note or 'related location'}", "  ")
    for step, loc in enumerate(finding.trace, start=1):
        lines += _wrapped(f"{step}. {loc.path}:{loc.line} {loc.note}".rstrip(), "  ")
    if finding.suggestion:
        lines += _wrapped(f"Suggestion: {finding.suggestion}", "  ")
    return lines


def reply_body(patch: Patch, findings: list[Finding]) -> str:
    author = (
        f"{patch.author_name} <{patch.author_email}>"
        if patch.author_email
        else (patch.author_name or "the author")
    )
    out = [f"On {patch.date or 'an unknown date'}, {author} wrote:"]
    loose: list[Finding] = []
    quoted_headers: set[str] = set()
    last_quoted: tuple[int, int] | None = None  # (id of hunk, index) quoted up to
    located = []
    for finding in findings:
        quoted = _commit_text(patch, finding.line) if finding.path == COMMIT_MSG else None
        if quoted:  # the commit message comes first in the mail: so do its notes
            out += [f"> {quoted}".rstrip(), "", *_comment(finding), ""]
            continue
        where = _locate(patch, finding)
        if where is None:
            loose.append(finding)
        else:
            located.append((finding, where))
    for finding, (diff, hunk, index) in located:
        if diff.path not in quoted_headers:
            quoted_headers.add(diff.path)
            out.append(f"> diff --git a/{diff.old_path or diff.path} b/{diff.path}")
            last_quoted = None
        start = max(0, index - CONTEXT_LINES)
        if last_quoted and last_quoted[0] == id(hunk):
            start = max(start, last_quoted[1] + 1)
        if not last_quoted or last_quoted[0] != id(hunk):
            out.append(
                f"> @@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} "
                f"@@ {hunk.section}".rstrip()
            )
            if start > 0:
                out.append("> [...]")
        elif start > last_quoted[1] + 1:
            out.append("> [...]")
        out.extend(_quote(line) for line in hunk.lines[start : index + 1])
        last_quoted = (id(hunk), index)
        out += ["", *_comment(finding), ""]
    if loose:
        if located:
            out.append("Also:")
            out.append("")
        for finding in loose:
            if finding.path:  # on its own line, so the wrapped comment below stays readable
                out.append(f"{finding.path}:{finding.line}:")
            out += [*_comment(finding), ""]
    out.append(SIGNATURE)
    return "\n".join(out) + "\n"


def reply_message(patch: Patch, findings: list[Finding]) -> str:
    subject = patch.subject if patch.subject.lower().startswith("re:") else f"Re: {patch.subject}"
    headers = [f"Subject: {subject}"]
    if patch.message_id:
        mid = patch.message_id if patch.message_id.startswith("<") else f"<{patch.message_id}>"
        headers += [f"In-Reply-To: {mid}", f"References: {mid}"]
    return "\n".join(headers) + "\n\n" + reply_body(patch, findings)


def render(result: LintResult) -> str:
    replies = [
        reply_message(patch, findings)
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
