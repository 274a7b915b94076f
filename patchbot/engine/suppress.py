"""Ways a finding is dropped on purpose: inline comments, [[ignore]] paths, baselines.

Inline suppressions are narrow on purpose: they name the rules they silence
(``/* patchbot-ignore: rule-a, rule-b */`` or ``// patchbot-ignore: rule-a``) on the
finding's line or the line above; there is no blanket form.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from patchbot.api import Finding
from patchbot.config import IgnoreEntry
from patchbot.engine.keys import mask_numbers
from patchbot.errors import InputError

INLINE_RE = re.compile(
    r"(?:/\*|//)\s*patchbot-ignore:\s*([a-z0-9][a-z0-9-]*(?:\s*,\s*[a-z0-9][a-z0-9-]*)*)"
)
BASELINE_VERSION = 1

Key = tuple[str, str, str | None, str]


def inline_ignored(text: str) -> dict[int, set[str]]:
    """Line number -> rule names silenced on that line.

    A trailing comment covers its own line; a comment alone on its line covers the next
    line too (a trailing comment on one statement must not leak onto the next).
    """
    found: dict[int, set[str]] = {}
    if "patchbot-ignore" not in text:
        return found
    for number, line in enumerate(text.split("\n"), start=1):
        match = INLINE_RE.search(line)
        if not match:
            continue
        names = {name.strip() for name in match.group(1).split(",")}
        found.setdefault(number, set()).update(names)
        if line[: match.start()].strip() == "":
            found.setdefault(number + 1, set()).update(names)
    return found


def is_inline_suppressed(
    finding: Finding, names: set[str], ignored: Mapping[int, set[str]]
) -> bool:
    """``names`` are the rule's id and aliases."""
    return bool(names & ignored.get(finding.line, set()))


def path_ignored(finding: Finding, names: set[str], ignores: Iterable[IgnoreEntry]) -> bool:
    return any(
        entry.rule in names and any(fnmatch.fnmatch(finding.path, g) for g in entry.paths)
        for entry in ignores
    )


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    keys = sorted({f.key() for f in findings}, key=lambda k: (k[0], k[1], k[2] or "", k[3]))
    entries = [{"rule": r, "path": p, "function": fn, "message": m} for r, p, fn, m in keys]
    doc = {"version": BASELINE_VERSION, "tool": "patchbot", "findings": entries}
    try:
        path.write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as exc:
        raise InputError(f"--write-baseline {path}: {exc.strerror}") from None
    return len(entries)


def read_baseline(path: Path) -> set[Key]:
    """The baseline's keys, with numbers masked (compare with keys.stable_key)."""
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"baseline {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"baseline {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or doc.get("version") != BASELINE_VERSION:
        raise InputError(f"baseline {path}: not a patchbot baseline version {BASELINE_VERSION}")
    keys: set[Key] = set()
    for entry in doc.get("findings", []):
        try:
            message = mask_numbers(entry["message"])
            keys.add((entry["rule"], entry["path"], entry["function"], message))
        except (KeyError, TypeError):
            raise InputError(f"baseline {path}: malformed entry {entry!r}") from None
    return keys
