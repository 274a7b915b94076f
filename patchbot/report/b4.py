"""b4 check-cmd JSON.

b4's review checks (``review-perpatch-check-cmd``) pipe one patch message into the
command and read a JSON list (or one object) from its stdout.  Each entry has
``tool`` (the check's name), ``status`` (exactly "pass", "warn" or "fail"; b4 treats
anything else as fail), ``summary`` (one short line), ``url`` (a link to more, or
null) and ``details`` (free text; b4's built-in checkpatch handler stores a
JSON-encoded list of ``{"status", "description"}`` there, and so do we).  Empty
stdout with a non-zero exit code is a "fail" for b4, so there always is an entry.
``prep --check`` and ``am --check`` read checkpatch-style text lines instead: use
``--format checkpatch`` (report/checkpatch.py) for those.

Status: any error finding or internal error -> fail; any warning -> warn; otherwise
pass (questions, i.e. info findings, are listed in details but do not warn).
"""

from __future__ import annotations

import json
from typing import Any

from patchbot.api import Severity
from patchbot.engine import LintResult
from patchbot.report.common import count_summary

STATUS = {Severity.ERROR: "fail", Severity.WARNING: "warn", Severity.INFO: "pass"}


def check_entry(result: LintResult) -> dict[str, Any]:
    findings = result.findings
    details: list[dict[str, str]] = [
        {
            "status": STATUS[f.severity],
            "description": f"{f.path}:{f.line}: {f.severity.label}: {f.message} [{f.rule}]",
        }
        for f in findings
    ]
    details += [{"status": "fail", "description": f"internal error: {e}"} for e in result.errors]
    details += [{"status": "warn", "description": f"input: {w}"} for w in result.warnings]
    if result.errors or any(f.severity == Severity.ERROR for f in findings):
        status = "fail"
    elif any(f.severity == Severity.WARNING for f in findings):
        status = "warn"
    else:
        status = "pass"
    summary = count_summary(findings) if findings else "passed all checks"
    if result.errors:
        summary += f"; {len(result.errors)} internal error(s)"
    return {
        "tool": "patchbot",
        "status": status,
        "summary": summary,
        "url": None,
        "details": json.dumps(details) if details else "",
    }


def render(result: LintResult) -> str:
    return json.dumps([check_entry(result)]) + "\n"
