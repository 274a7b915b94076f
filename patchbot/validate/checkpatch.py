"""Run the tree's own scripts/checkpatch.pl --strict on each patch of a series.

6.1's checkpatch has no JSON output; with --terse --showfile --show-types every
finding is one line, ``path:line: LEVEL:TYPE: message`` (path and line are missing
for commit-message findings), which maps to a Finding with rule ``checkpatch/TYPE``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from patchbot.api import Finding, Severity
from patchbot.errors import InputError

_LINE = re.compile(
    r"^(?:(?P<path>[^:\s]+):(?P<line>\d+): )?(?P<level>ERROR|WARNING|CHECK):"
    r"(?P<type>[A-Z0-9_]+): (?P<msg>.*)$",
    re.M,
)
_SEVERITY = {"ERROR": Severity.ERROR, "WARNING": Severity.WARNING, "CHECK": Severity.INFO}


def checkpatch(tree: Path, patch_name: str, mbox: str) -> list[Finding]:
    """checkpatch.pl findings for one patch (its mail text), from ``tree``."""
    script = tree / "scripts" / "checkpatch.pl"
    if not script.is_file():
        raise InputError(f"{tree}: no scripts/checkpatch.pl")
    proc = subprocess.run(
        [
            "perl",
            str(script),
            "--strict",
            "--terse",
            "--showfile",
            "--show-types",
            "--no-summary",
            "--color=never",
            "-",
        ],
        cwd=tree,
        input=mbox,
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, 1):
        raise InputError(f"checkpatch.pl failed on {patch_name}: {proc.stderr.strip()[-200:]}")
    findings = []
    for m in _LINE.finditer(proc.stdout):
        findings.append(
            Finding(
                rule=f"checkpatch/{m['type']}",
                severity=_SEVERITY[m["level"]],
                message=f"{patch_name}: {m['msg'].strip()}",
                path=m["path"] or patch_name,
                line=int(m["line"] or 1),
            )
        )
    return findings
