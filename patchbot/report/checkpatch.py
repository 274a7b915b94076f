"""checkpatch.pl --terse style lines, for b4's ``prep --check`` and ``am --check``.

Those b4 commands pipe each patch into ``prep-perpatch-check-cmd`` /
``am-perpatch-check-cmd`` and read plain text, not JSON: every stdout line is one
result, a "fail" if it contains ``ERROR:`` and a "warning" otherwise; every stderr line
is a "fail"; no output with exit code 0 means "passed all checks".  So this format
prints one ``path:line: ERROR|WARNING|CHECK: message [rule-id]`` line per finding
(info findings use checkpatch's CHECK) and nothing at all for a clean patch; the lint
command keeps stderr quiet in this format.  (b4's newer review checks read the JSON of
``--format b4`` instead.)
"""

from __future__ import annotations

from patchbot.api import Severity
from patchbot.engine import LintResult

LEVELS = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "CHECK"}


def render(result: LintResult) -> str:
    lines = [
        f"{f.path}:{f.line}: {LEVELS[f.severity]}: {f.message} [{f.rule}]" for f in result.findings
    ]
    lines += [f"patchbot: ERROR: internal error: {e}" for e in result.errors]
    return "".join(line + "\n" for line in lines)
