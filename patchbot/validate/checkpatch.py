"""Run the tree's own scripts/checkpatch.pl --strict on each patch of a series.

6.1's checkpatch has no JSON output; with --terse --showfile --show-types every
finding is one line, ``path:line: LEVEL:TYPE: message``, which maps to a Finding with
rule ``checkpatch/TYPE``.  Commit-message findings come with an empty path and a line
number that counts nothing useful (``:1743: WARNING:BAD_FIXES_TAG: ...`` on a 20-line
message); the sign-off checks run after the diff and carry its last file and line.
Both point at the COMMIT_MSG pseudo path instead (numbered as lint numbers it: title
on line 1, body from line 3), on the message line the finding quotes or names.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from patchbot import sandbox
from patchbot.api import Finding, Severity
from patchbot.errors import InputError
from patchbot.patterns import COMMIT_MSG_PATH
from patchbot.series.commitmsg import parse_subject

_LINE = re.compile(
    r"^(?:(?P<path>[^:\s]*):(?P<line>\d+): )?(?P<level>ERROR|WARNING|CHECK):"
    r"(?P<type>[A-Z0-9_]+): (?P<msg>.*)$",
    re.M,
)
# checkpatch on one patch takes ~1-3 s; a patch built to make its regexes backtrack stops here
CHECKPATCH_LIMITS = sandbox.Limits(wall_seconds=120, cpu_seconds=120, output_bytes=8 << 20)
_SEVERITY = {"ERROR": Severity.ERROR, "WARNING": Severity.WARNING, "CHECK": Severity.INFO}
# checked once the whole mail is read, so checkpatch prints the last diff file and line
_SIGN_OFF_TYPES = ("MISSING_SIGN_OFF", "NO_AUTHOR_SIGN_OFF", "FROM_SIGN_OFF_MISMATCH")
# what a commit-message type is about when its message quotes nothing of the line
_TYPE_LINE_START = {"BAD_FIXES_TAG": "Fixes:", "GIT_COMMIT_ID": "commit "}
_QUOTED = re.compile(r"'([^']{3,})'")
_LEADING_WORD = re.compile(r"^([A-Za-z][\w-]+)")


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
    return parse_checkpatch(proc.stdout, mbox)


def parse_checkpatch(output: str, mbox: str) -> list[Finding]:
    """Findings from checkpatch's --terse --showfile output on the mail ``mbox``.  The
    patch label is not repeated in the message: reports group findings by patch."""
    message = commit_message_lines(mbox)
    findings = []
    for m in _LINE.finditer(output):
        kind, text = m["type"], m["msg"].strip()
        if m["path"] and kind not in _SIGN_OFF_TYPES:
            path, line = m["path"], int(m["line"])
        else:
            path, line = COMMIT_MSG_PATH, _message_line(kind, text, message)
        findings.append(
            Finding(
                rule=f"checkpatch/{kind}",
                severity=_SEVERITY[m["level"]],
                message=text,
                path=path,
                line=line,
            )
        )
    return findings


def commit_message_lines(mbox: str) -> list[str]:
    """The commit message of a patch mail as COMMIT_MSG lines: title, blank, body."""
    head, _, rest = mbox.partition("\n\n")
    subject = re.search(r"^Subject: *(.*(?:\n[ \t].*)*)", head, re.M)
    title = parse_subject(" ".join(subject.group(1).split())).title if subject else ""
    body = rest.split("\n---\n", 1)[0].strip("\n")
    return [title, "", *body.split("\n")]


def _message_line(kind: str, text: str, message: list[str]) -> int:
    """The COMMIT_MSG line a commit-message finding is about: the line holding what it
    quotes, or the trailer it names, else the title."""
    if kind in _SIGN_OFF_TYPES:
        sobs = [n for n, ln in enumerate(message, 1) if ln.lower().startswith("signed-off-by:")]
        return sobs[-1] if sobs else len(message)
    quoted = _QUOTED.findall(text)
    starts = [s for s in (_TYPE_LINE_START.get(kind), *_LEADING_WORD.findall(text)) if s]
    for n, ln in enumerate(message, start=1):
        if n > 2 and any(q in ln for q in quoted):
            return n
    for n, ln in enumerate(message, start=1):
        if n > 2 and any(ln.lower().startswith(s.lower().rstrip(":") + ":") for s in starts):
            return n
    return 1
