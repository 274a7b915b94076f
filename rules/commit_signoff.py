"""The patch has no Signed-off-by: from its author.

What it does
------------
Checks each patch's commit message for a ``Signed-off-by:`` line.  It reports a patch
with none at all, and a patch whose sign-offs all name someone other than the author
(the From: of the mail, or the in-body From: when the patch is sent for someone else).
Names are compared by e-mail address, case-insensitively.  A review reply (``Re:``)
that quotes the patch is only checked for having a sign-off at all: its From: is the
reviewer, not the author.

Why is this bad?
----------------
The sign-off is the author's Developer's Certificate of Origin: without it a maintainer
cannot take the patch.  When an AI assistant helped, the human submitter still has to
sign off; the assistant never does.

Example
-------
```patch
From 5c1e0c2d7e1a4f3b9a8e7d6c5b4a39281706f5e4 Mon Sep 17 00:00:00 2001
From: Dana Developer <dana@example.org>
Date: Wed, 1 Apr 2026 13:12:00 +0200
Subject: [PATCH] demo: drop a stale counter

The counter is never read since the stats rework.

Signed-off-by: Someone Else <someone@example.org>
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
An author who signs off with a different address than the one they send from (a
corporate address in the sign-off, a personal one in From:) is reported; use the same
address, or an in-body ``From:`` line, as submitting-patches.rst describes.

References
----------
- Documentation/process/submitting-patches.rst, "Sign your work - the Developer's
  Certificate of Origin" and "From Line".
- Documentation/process/coding-assistants.rst (added in 2026, not in 6.1): AI agents
  must not add Signed-off-by tags; the human submitter signs off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.patterns import COMMIT_MSG_PATH, COMMIT_TITLE_LINE, body_lines
from patchbot.series.commitmsg import REPLY_RE

RULE = Rule(
    id="missing-signoff",
    severity=Severity.ERROR,
    scope="patch",
    summary="no Signed-off-by: at all, or none from the patch author",
    confidence="high",
)

_SOB_RE = re.compile(r"^\s*signed-off-by:\s*(.*)$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"<([^<>\s]+@[^<>\s]+)>|([^\s<>]+@[^\s<>]+)")


def _email(text: str) -> str:
    m = _EMAIL_RE.search(text)
    return (m.group(1) or m.group(2)).lower() if m else ""


def check(ctx: Context) -> Iterable[Finding]:
    patch = ctx.patch
    if patch is None or patch.is_cover:
        return
    lines = body_lines(patch.body)
    sobs = [(no, m.group(1).strip()) for no, text in lines if (m := _SOB_RE.match(text))]
    if not sobs:
        last = lines[-1][0] if patch.body.strip() else COMMIT_TITLE_LINE
        yield ctx.finding(
            "there is no Signed-off-by: line; the author has to certify the Developer's "
            "Certificate of Origin",
            last,
            path=COMMIT_MSG_PATH,
            suggestion="add 'Signed-off-by: Your Name <you@example.org>' (git commit -s)",
        )
        return
    author = patch.author_email.lower()
    # A review reply that quotes the patch is From: the reviewer; the quoted sign-offs
    # are the author's, whose address the reply does not carry, so there is no one to
    # match them against.
    if REPLY_RE.match(patch.subject):
        return
    if not author or any(_email(value) == author for _no, value in sobs):
        return
    who = f"{patch.author_name} <{patch.author_email}>".strip()
    yield ctx.finding(
        f"none of the Signed-off-by: lines is from the author {who}",
        sobs[-1][0],
        path=COMMIT_MSG_PATH,
        suggestion=f"add 'Signed-off-by: {who}', or an in-body From: line naming the real author",
    )
