"""An Assisted-by: trailer is not in the AGENT:MODEL form.

What it does
------------
Finds ``Assisted-by`` lines in a commit message and checks that the value reads
``AGENT_NAME:MODEL_VERSION``, optionally followed by the tools used in brackets, e.g.
``Assisted-by: Claude:claude-opus-4-6``.  It reports a missing colon after the key,
a value without the ``:`` between agent and model, an empty agent or model, and an
e-mail address (an assistant is not a person and has no address).

Why is this bad?
----------------
Tools (b4, patchwork, stats scripts) parse trailers mechanically; a trailer in another
shape is lost or miscounted, and an address suggests a person who could be Cc'd or who
signed off.  The RFC discussed in the virtio-mem CoCo thread used the expected form
``Assisted-by: Claude:claude-opus-4-6``.

Example
-------
```patch
From 5c1e0c2d7e1a4f3b9a8e7d6c5b4a39281706f5e4 Mon Sep 17 00:00:00 2001
From: Dana Developer <dana@example.org>
Date: Wed, 1 Apr 2026 13:12:00 +0200
Subject: [PATCH] demo: drop a stale counter

The counter is never read since the stats rework.

Assisted-by: Claude <claude@example.org>
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

Assisted-by: Claude:claude-opus-4-6
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
Agent or model names with characters outside letters, digits and ``._+-`` are reported;
so is a free-text note appended after the tools.

References
----------
- Documentation/process/coding-assistants.rst (added to the kernel in 2026 by "docs: add
  AI Coding Assistants documentation"; not present in 6.1): attribution uses
  ``Assisted-by: AGENT_NAME:MODEL_VERSION [TOOL1] [TOOL2]``.
- "[PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments" and the
  reply by David Hildenbrand, 2026-04-01, which carries ``Assisted-by: Claude:claude-opus-4-6``.
- Documentation/process/submitting-patches.rst, on tags and trailers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.patterns import COMMIT_MSG_PATH, body_lines

RULE = Rule(
    id="malformed-assisted-by",
    severity=Severity.WARNING,
    scope="patch",
    summary="Assisted-by: must read AGENT_NAME:MODEL_VERSION [TOOL...]",
    confidence="high",
)

_KEY_RE = re.compile(r"^\s*assisted[- _]?by\b\s*(:?)\s*(.*)$", re.IGNORECASE)
_NAME = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
_GOOD_RE = re.compile(rf"^{_NAME}:{_NAME}(?:\s+\[?{_NAME}\]?)*$")
_EMAIL_RE = re.compile(r"<[^>]*>|\S+@\S+")


def _problem(colon: str, value: str) -> str | None:
    if not colon:
        return "has no ':' after the key"
    if not value:
        return "is empty"
    if _EMAIL_RE.search(value):
        return f"names an e-mail address ({value}); an assistant is credited as AGENT:MODEL"
    head = value.split()[0]
    if ":" not in head:
        return f"'{value}' has no ':' between the agent and the model"
    agent, _, model = head.partition(":")
    if not agent or not model:
        return f"'{value}' has an empty {'agent' if not agent else 'model'} name"
    if not _GOOD_RE.match(value):
        return f"'{value}' is not AGENT_NAME:MODEL_VERSION followed by optional [TOOL] names"
    return None


def check(ctx: Context) -> Iterable[Finding]:
    patch = ctx.patch
    if patch is None:
        return
    for line, text in body_lines(patch.body):
        m = _KEY_RE.match(text)
        if not m:
            continue
        problem = _problem(m.group(1), m.group(2).strip())
        if problem:
            yield ctx.finding(
                f"Assisted-by: {problem}",
                line,
                path=COMMIT_MSG_PATH,
                suggestion="write it as 'Assisted-by: AGENT_NAME:MODEL_VERSION', e.g. "
                "'Assisted-by: Claude:claude-opus-4-6'",
            )
