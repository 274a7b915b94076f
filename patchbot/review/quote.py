"""Quote a patch the way a reviewer trims it: only the hunks that carry comments.

One way to quote, trim and wrap for every review reply patchbot writes (the mails of
patchbot.review.compose and `lint --format review`):

* each file's diff header is quoted once, before its first quoted hunk;
* each quoted hunk keeps its ``@@`` line, then up to CONTEXT_LINES lines before each
  commented line, down to that line; ``[...]`` stands exactly where hunk lines were cut
  (before, between and after the quoted runs);
* the comment sits directly under the quoted line it concerns;
* commit-message findings quote their commit-message line, before the diff, as the
  commit message comes first in the mail;
* quoted lines are kept byte-exact (only trailing whitespace dropped); comments wrap at
  WRAP columns and never split a word, so paths and identifiers survive.

Findings that sit on no quoted line (series-wide, a line the diff does not show) are
returned apart, for the caller to place after the quotes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from patchbot.api import Finding
from patchbot.series.model import DiffLine, FileDiff, Hunk, Patch

CONTEXT_LINES = 3  # quoted lines before the commented one
WRAP = 72  # mail on the kernel lists is read as plain text wrapped near 72 columns
CUT = "> [...]"
COMMIT_MSG = "COMMIT_MSG"  # pseudo path of commit-message findings (see patchbot.patterns)

Commenter = Callable[[Finding], list[str]]


def wrap(text: str, indent: str = "", hang: str = "") -> list[str]:
    """Wrap one paragraph at WRAP columns; words (paths, identifiers) are never split.

    ``hang`` is the extra indent of continuation lines.  A single word longer than the
    width stays whole on its own line: breaking a path would make it useless.
    """
    return textwrap.wrap(
        text,
        WRAP,
        initial_indent=indent,
        subsequent_indent=indent + hang,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def quote_line(line: DiffLine) -> str:
    return f"> {line.kind}{line.text}".rstrip()


def commit_line(patch: Patch, line: int) -> str | None:
    """Line ``line`` of the commit message as `git commit` shows it: title, blank, body."""
    if line == 1:
        return patch.title or patch.subject
    body = patch.body.split("\n")
    if 3 <= line < len(body) + 3:
        return body[line - 3]
    return None


def locate(patch: Patch, finding: Finding) -> tuple[int, int, int] | None:
    """(file index, hunk index, line index) of the post-image line the finding sits on."""
    for fi, diff in enumerate(patch.files):
        if finding.path not in (diff.new_path, diff.old_path):
            continue
        for hi, hunk in enumerate(diff.hunks):
            for li, line in enumerate(hunk.lines):
                if line.new_no == finding.line and line.kind in "+ ":
                    return fi, hi, li
    return None


def file_header(diff: FileDiff, *, full: bool = True) -> list[str]:
    """``diff --git`` and, when ``full``, the ``---``/``+++`` lines of one file."""
    old = f"a/{diff.old_path}" if diff.old_path else "/dev/null"
    new = f"b/{diff.new_path}" if diff.new_path else "/dev/null"
    head = [f"> diff --git a/{diff.old_path or diff.path} b/{diff.new_path or diff.path}"]
    return head + ([f"> --- {old}", f"> +++ {new}"] if full else [])


def hunk_header(hunk: Hunk) -> str:
    return (
        f"> @@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@ {hunk.section}"
    ).rstrip()


@dataclass
class Quoted:
    lines: list[str]  # quotes and comments, ready to join with "\n"
    loose: list[Finding]  # findings on no line the mail can quote


def _with_comments(out: list[str], findings: Sequence[Finding], comment: Commenter) -> None:
    out.append("")
    for finding in findings:
        out += [*comment(finding), ""]


def quote_patch(
    patch: Patch, findings: Sequence[Finding], comment: Commenter, *, full_header: bool = True
) -> Quoted:
    """The trimmed quote of ``patch`` with each finding's comment under its line."""
    out: list[str] = []
    loose: list[Finding] = []
    commit: dict[int, list[Finding]] = {}
    placed: dict[tuple[int, int, int], list[Finding]] = {}
    for finding in findings:
        if finding.path == COMMIT_MSG and commit_line(patch, finding.line) is not None:
            commit.setdefault(finding.line, []).append(finding)
            continue
        where = locate(patch, finding)
        if where is None:
            loose.append(finding)
        else:
            placed.setdefault(where, []).append(finding)
    for line_no in sorted(commit):
        out.append(f"> {commit_line(patch, line_no)}".rstrip())
        _with_comments(out, commit[line_no], comment)
    last_file = last_hunk = -1
    end = -1  # index of the last line quoted in the current hunk
    for fi, hi, li in sorted(placed):
        hunk = patch.files[fi].hunks[hi]
        if (fi, hi) != (last_file, last_hunk):
            if last_hunk >= 0:
                _close_hunk(out, patch.files[last_file].hunks[last_hunk], end)
            if fi != last_file:
                out += file_header(patch.files[fi], full=full_header)
            out.append(hunk_header(hunk))
            last_file, last_hunk, end = fi, hi, -1
        start = max(end + 1, li - CONTEXT_LINES)
        if start > end + 1:
            out.append(CUT)
        out += [quote_line(line) for line in hunk.lines[start : li + 1]]
        end = li
        _with_comments(out, placed[(fi, hi, li)], comment)
    if last_hunk >= 0:
        _close_hunk(out, patch.files[last_file].hunks[last_hunk], end)
    while out and out[-1] == "":
        out.pop()
    return Quoted(out, loose)


def _close_hunk(out: list[str], hunk: Hunk, end: int) -> None:
    """Mark the cut tail of a hunk, under the last comment, before the next quote."""
    if end + 1 < len(hunk.lines):
        while out and out[-1] == "":
            out.pop()
        out += ["", CUT]
