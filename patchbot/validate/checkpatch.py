"""Run the tree's own scripts/checkpatch.pl --strict on each patch of a series.

6.1's checkpatch has no JSON output; with --terse --showfile --show-types every
finding is one line, ``path:line: LEVEL:TYPE: message`` (path and line are missing
for commit-message findings), which maps to a Finding with rule ``checkpatch/TYPE``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from patchbot import sandbox
from patchbot.api import Finding, Severity
from patchbot.errors import InputError

_LINE = re.compile(
    r"^(?:(?P<path>[^:\s]+):(?P<line>\d+): )?(?P<level>ERROR|WARNING|CHECK):"
    r"(?P<type>[A-Z0-9_]+): (?P<msg>.*)$",
    re.M,
)
# checkpatch on one patch takes ~1-3 s; a patch built to make its regexes backtrack stops here
CHECKPATCH_LIMITS = sandbox.Limits(wall_seconds=120, cpu_seconds=120, output_bytes=8 << 20)
_SEVERITY = {"ERROR": Severity.ERROR, "WARNING": Severity.WARNING, "CHECK": Severity.INFO}


def checkpatch(tree: Path, patch_name: str, mbox: str) -> list[Finding]:
    """checkpatch.pl findings for one patch (its mail text), from ``tree``."""
    script = tree / "scripts" / "checkpatch.pl"
    if not script.is_file():
        raise InputError(f"{tree}: no scripts/checkpatch.pl")
    # in the sandbox: checkpatch reads the patch (and runs git on the tree) read-only
    result = sandbox.run(
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
        readable=[tree],
        cwd=tree,
        stdin=mbox.encode(),
        limits=CHECKPATCH_LIMITS,
    )
    stopped = result.violation()
    if stopped is not None:
        return [
            Finding(
                rule=f"sandbox/{stopped[0]}",
                severity=Severity.ERROR,
                message=f"{patch_name}: {stopped[1]}",
                path=patch_name,
                line=1,
            )
        ]
    proc = subprocess.CompletedProcess(
        result.command,
        result.returncode,
        result.stdout.decode(errors="replace"),
        result.stderr.decode(errors="replace"),
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
