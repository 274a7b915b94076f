"""Keep only the file-scope findings a patch introduces.

A finding is introduced when its line is one the patch adds, or when it lies in a
function the patch changes and the same finding (rule, path, function, message; numbers
masked, see keys.py) is not produced on the pre-image.  The second case catches a patch
that deletes the cleanup call of an otherwise untouched line: the leak is reported on
the old line, which the patch did not add but did break.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from patchbot.api import Finding, SourceFile
from patchbot.cparse import FunctionSpan, function_at, function_spans
from patchbot.engine.keys import stable_key
from patchbot.series.model import Patch


def fill_function(finding: Finding, text: str) -> Finding:
    """Name the enclosing function when the rule did not: it is part of the finding key."""
    if finding.function is None and finding.line > 0:
        span = function_at(text, finding.line)
        if span is not None:
            finding.function = span.name
    return finding


def removed_pre_lines(patch: Patch | None, path: str) -> set[int]:
    if patch is None:
        return set()
    lines: set[int] = set()
    for diff in patch.files:
        if path in (diff.new_path, diff.old_path):
            lines.update(diff.removed_lines())
    return lines


def changed_spans(file: SourceFile, removed: set[int]) -> list[FunctionSpan]:
    """Post-image functions holding an added line, or named like a pre-image function
    that lost a line."""
    spans = function_spans(file.text)
    changed = [s for s in spans if any(s.start_line <= ln <= s.end_line for ln in file.added)]
    if removed and file.pre_text:
        lost = {
            s.name
            for s in function_spans(file.pre_text)
            if any(s.start_line <= ln <= s.end_line for ln in removed)
        }
        changed.extend(s for s in spans if s.name in lost and s not in changed)
    return changed


def keep_introduced(
    findings: Iterable[Finding],
    file: SourceFile,
    patch: Patch | None,
    pre_findings: Callable[[], list[Finding]],
) -> list[Finding]:
    """Filter ``findings`` (of one rule on one file) to what ``patch`` introduces.

    ``pre_findings`` runs the same rule on the pre-image; it is only called when some
    finding lies outside the added lines but inside a changed function.
    """
    kept: list[Finding] = []
    candidates: list[Finding] = []
    spans: list[FunctionSpan] | None = None
    for finding in findings:
        if finding.line in file.added:
            kept.append(finding)
            continue
        if spans is None:
            spans = changed_spans(file, removed_pre_lines(patch, file.path))
        if any(s.start_line <= finding.line <= s.end_line for s in spans):
            candidates.append(finding)
    if candidates:
        old_keys = {stable_key(f) for f in pre_findings()}
        kept.extend(f for f in candidates if stable_key(f) not in old_keys)
    return kept
