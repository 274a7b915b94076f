"""Finding identity that survives edits elsewhere in the file.

Finding.key() is (rule, path, function, message).  Some messages quote line numbers
or counts ("computed 5 times (also on lines 945, 1708)"), which change whenever a
patch adds a line above them; comparing such keys literally would report an old
finding as new.  Numbers standing alone are therefore masked before keys are compared
(pre-image vs post-image, and against a baseline).  Digits inside identifiers
(``sb2``, ``x86_64``) are kept.
"""

from __future__ import annotations

import re

from patchbot.api import Finding

_NUMBER_RE = re.compile(r"(?<![\w.])\d+(?![\w])")

StableKey = tuple[str, str, str | None, str]


def mask_numbers(message: str) -> str:
    return _NUMBER_RE.sub("#", message)


def stable_key(finding: Finding) -> StableKey:
    rule, path, function, message = finding.key()
    return rule, path, function, mask_numbers(message)
