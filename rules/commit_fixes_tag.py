"""A Fixes: tag is not in the form Fixes: <12+ hex digits> ("subject").

What it does
------------
Checks every line of a commit message that starts with ``Fixes:`` against the form the
kernel documents: at least 12 lower-case hex digits of the commit id, one space, then the
commit's one-line summary in double quotes inside parentheses, all on one line.  It
reports short or upper-case ids, a missing or unquoted summary, a ``commit`` word before
the id, and a tag split over two lines.

Why is this bad?
----------------
The stable team and backport tooling parse Fixes: tags to decide which trees need a fix.
An id shorter than 12 digits becomes ambiguous as the history grows, and a tag without
the summary cannot be checked by a reader.

Example
-------
```patch
From 5c1e0c2d7e1a4f3b9a8e7d6c5b4a39281706f5e4 Mon Sep 17 00:00:00 2001
From: Dana Developer <dana@example.org>
Date: Wed, 1 Apr 2026 13:12:00 +0200
Subject: [PATCH] demo: drop a stale counter

The counter is never read since the stats rework.

Fixes: 54a4f02 demo: add stats
Signed-off-by: Dana Developer <dana@example.org>
---
 drivers/demo/demo.c | 1 -
 1 file changed, 1 deletion(-)

diff --git a/drivers/demo/demo.c b/drivers/demo/demo.c
index 1111111..2222222 100644
--- a/drivers/demo/demo.c
+++ b/drivers/demo/demo.c
@@ -10,6 +10,5 @@ static int demo_probe(struct demo_dev *dd)
 {
        int err;
-	dd->stale = 0;
        err = demo_init(dd);
        if (err)
                return err;
```

Use instead
-----------
```patch
From 5c1e0c2d7e1a4f3b9a8e7d6c5b4a39281706f5e4 Mon Sep 17 00:00:00 2001
From: Dana Developer <dana@example.org>
Date: Wed, 1 Apr 2026 13:12:00 +0200
Subject: [PATCH] demo: drop a stale counter

The counter is never read since the stats rework.

Fixes: 54a4f0239f2e ("demo: add stats")
Signed-off-by: Dana Developer <dana@example.org>
---
 drivers/demo/demo.c | 1 -
 1 file changed, 1 deletion(-)

diff --git a/drivers/demo/demo.c b/drivers/demo/demo.c
index 1111111..2222222 100644
--- a/drivers/demo/demo.c
+++ b/drivers/demo/demo.c
@@ -10,6 +10,5 @@ static int demo_probe(struct demo_dev *dd)
 {
        int err;
-	dd->stale = 0;
        err = demo_init(dd);
        if (err)
                return err;
```

Known false positives
---------------------
A prose line that happens to start with "Fixes:" in the middle of a paragraph is checked
like a tag.  Summaries that themselves contain ``")`` confuse the quote check.

References
----------
- Documentation/process/submitting-patches.rst, "Describe your changes": use the Fixes:
  tag with the first 12 characters of the SHA-1 ID and the one line summary, and do not
  split the tag across lines.
- scripts/checkpatch.pl (GIT_COMMIT_ID) applies the same form to commit references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.patterns import COMMIT_MSG_PATH, body_lines

RULE = Rule(
    id="malformed-fixes-tag",
    severity=Severity.WARNING,
    scope="patch",
    summary='Fixes: must read Fixes: <12+ hex digits> ("subject") on one line',
    confidence="high",
    options={"min_hex_digits": 12},
)

_FIXES_RE = re.compile(r"^\s*fixes\s*:\s*(.*)$", re.IGNORECASE)
_GOOD_RE = re.compile(r'^[0-9a-f]{%d,40} \("(.+)"\)$')


def _problem(value: str, next_line: str, min_hex: int) -> str | None:
    if re.match(_GOOD_RE.pattern % min_hex, value):
        return None
    if value.lower().startswith("commit "):
        return "starts with 'commit'; give the id alone"
    head = value.split(" ", 1)[0]
    if not re.fullmatch(r"[0-9a-fA-F]+", head):
        return f"does not start with a commit id ('{head}')"
    if head != head.lower():
        return f"commit id {head} should be lower-case hex"
    if len(head) < min_hex:
        return f"commit id {head} is shorter than {min_hex} hex digits"
    rest = value[len(head) :].strip()
    if rest.startswith('("') and not rest.endswith('")') and next_line.strip():
        return "is split over two lines; tags are exempt from line wrapping"
    return (
        f"summary should be quoted as (\"subject\"), not '{rest}'"
        if rest
        else ('has no ("subject") after the commit id')
    )


def check(ctx: Context) -> Iterable[Finding]:
    patch = ctx.patch
    if patch is None:
        return
    opts = {**RULE.options, **ctx.options}
    lines = body_lines(patch.body)
    for index, (line, text) in enumerate(lines):
        m = _FIXES_RE.match(text)
        if not m:
            continue
        following = lines[index + 1][1] if index + 1 < len(lines) else ""
        problem = _problem(m.group(1).strip(), following, int(opts["min_hex_digits"]))
        if problem:
            yield ctx.finding(
                f"Fixes: tag {problem}",
                line,
                path=COMMIT_MSG_PATH,
                suggestion="generate it with: git log -1 --abbrev=12 "
                "--format='Fixes: %h (\"%s\")' <commit>",
            )
