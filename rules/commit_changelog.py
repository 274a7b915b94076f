"""A version changelog sits in the commit message instead of below the --- line.

What it does
------------
Looks at the commit message of each patch (everything above the first ``---`` line) for
a per-version changelog: a line such as ``v2 -> v3:``, ``v1->v2``, ``Changes in v2``,
``Changes since v1``, ``Changelog:`` or ``v3:`` at the start of a line.  The cover
letter is not checked: its body is where a series changelog belongs.

Why is this bad?
----------------
What changed between postings matters to reviewers today and to nobody once the patch
is merged; above the ``---`` it ends up in the permanent git history.  Put it after the
``---`` marker, where ``git am`` drops it, or in the cover letter.

Example
-------
```patch
From 5c1e0c2d7e1a4f3b9a8e7d6c5b4a39281706f5e4 Mon Sep 17 00:00:00 2001
From: Dana Developer <dana@example.org>
Date: Wed, 1 Apr 2026 13:12:00 +0200
Subject: [PATCH v2] demo: drop a stale counter

The counter is never read since the stats rework.

v1 -> v2:
- reworded the commit message

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
Subject: [PATCH v2] demo: drop a stale counter

The counter is never read since the stats rework.

Signed-off-by: Dana Developer <dana@example.org>
---
v1 -> v2:
- reworded the commit message

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
Some subsystems (DRM, for example) deliberately keep a changelog in the commit message;
disable the rule in their config.  A commit that talks about a protocol "v2:" at the
start of a line is reported too.

References
----------
- Documentation/process/submitting-patches.rst, "The canonical patch format": comments
  not suitable for the changelog, such as patch changelogs between versions, go below
  the ``---`` separator; also "Respond to review comments" on adding a patch changelog.
- Documentation/process/5.Posting.rst, on what goes in the changelog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.patterns import COMMIT_MSG_PATH, body_lines

RULE = Rule(
    id="changelog-above-cut",
    severity=Severity.WARNING,
    scope="patch",
    summary="a version changelog is in the commit message instead of below the --- line",
    confidence="high",
)

_CHANGELOG_RE = re.compile(
    r"""^\s*[\[(]?(?:
        v\d+\s*(?:->|→|=>|\.\.|to)\s*v\d+\b        # v1 -> v2, v2..v3, v1 to v2
      | changes\s+(?:in|since|from|for)\s+v\d+\b   # Changes in v2, Changes since v1
      | change\s*log\s*:                          # Changelog:
      | v\d+\s*[:\])]                             # v3:  [v2]  (v2)
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def check(ctx: Context) -> Iterable[Finding]:
    patch = ctx.patch
    if patch is None or patch.is_cover:
        return
    for line, text in body_lines(patch.body):
        if _CHANGELOG_RE.match(text):
            yield ctx.finding(
                f"'{text.strip()}' starts a version changelog in the commit message; put it "
                "below the --- line (or in the cover letter) so it stays out of git history",
                line,
                path=COMMIT_MSG_PATH,
                suggestion="move the changelog after the '---' separator",
            )
            return  # one per patch: the rest of the block goes with it
