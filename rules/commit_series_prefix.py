"""The [PATCH vN n/M] prefixes of a series disagree, or a title lacks a subsystem prefix.

What it does
------------
Looks at the subjects of all patches of a series (and the cover letter, numbered 0).
It reports numbering gaps and duplicates (a series of M patches must carry 1/M..M/M),
patches whose M differs from the others, different version numbers (v2 next to v3) or
tags (RFC on some patches only), and patch titles that do not start with a
``subsystem: `` prefix such as ``virtio-mem: `` or ``x86/tdx: ``.

Why is this bad?
----------------
Maintainers' tools (b4, patchwork) pick series up by their prefixes: a gap looks like a
lost mail, mixed versions look like two series.  The subsystem prefix tells the reader
and the shortlog which area a change touches.

Example
-------
```patch
From 5c1e0c2d7e1a4f3b9a8e7d6c5b4a39281706f5e4 Mon Sep 17 00:00:00 2001
From: Dana Developer <dana@example.org>
Date: Wed, 1 Apr 2026 13:12:00 +0200
Subject: [PATCH 2/3] drop a stale counter

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
Linting only part of a series (say patches 2 and 3 saved from a thread) reports the
missing numbers.  Reverts (``Revert "..."``) and merge-window pulls are not expected to
have a subsystem prefix and are left alone.

References
----------
- Documentation/process/submitting-patches.rst, "The canonical patch format" and
  "Subject line": ``[PATCH v2 M/N] sub/sys: Condensed patch summary``; number the
  patches of a series 1/N .. N/N.
- Documentation/process/5.Posting.rst: ``[PATCH nn/mm] subsys: one-line description``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.patterns import COMMIT_MSG_PATH, COMMIT_TITLE_LINE
from patchbot.series.model import Patch

RULE = Rule(
    id="inconsistent-series-prefix",
    severity=Severity.WARNING,
    scope="series",
    summary="series numbering, version or tags disagree, or a title has no 'subsys: ' prefix",
    confidence="high",
)

_PREFIX_RE = re.compile(r"^[\w./+,-]+(?: [\w./+,-]+)?: \S")
_EXEMPT_RE = re.compile(r'^(?:Revert "|Merge |Reapply ")')


def _tags(patch: Patch) -> tuple[str, ...]:
    return tuple(sorted(t.upper() for t in patch.tags if t.upper() != "PATCH"))


def _finding(ctx: Context, patch: Patch, message: str, suggestion: str) -> Finding:
    finding = ctx.finding(message, COMMIT_TITLE_LINE, path=COMMIT_MSG_PATH, suggestion=suggestion)
    finding.patch = patch.label
    return finding


def _numbering(ctx: Context, patches: list[Patch]) -> Iterable[Finding]:
    numbered = [p for p in patches if p.number is not None]
    if not numbered:
        return
    totals = Counter(p.total for p in numbered)
    total = totals.most_common(1)[0][0] or 0
    for p in numbered:
        if p.total != total:
            yield _finding(
                ctx,
                p,
                f"'{p.subject}' says {p.number}/{p.total}, the rest of the series says /{total}",
                "resend the series with one N/M numbering",
            )
    counts = Counter(p.number for p in numbered)
    for p in numbered:
        if counts[p.number] > 1 and p is next(q for q in numbered if q.number == p.number):
            yield _finding(
                ctx,
                p,
                f"patch number {p.number}/{total} appears {counts[p.number]} times",
                "renumber the patches 1/M..M/M",
            )
    missing = [n for n in range(1, total + 1) if n not in counts]
    if missing:
        shown = ", ".join(f"{n}/{total}" for n in missing[:5])
        yield _finding(
            ctx,
            numbered[0],
            f"the series is numbered /{total} but {shown} "
            f"{'is' if len(missing) == 1 else 'are'} missing",
            "send every patch of the series, or renumber it",
        )


def _versions_and_tags(ctx: Context, series_patches: list[Patch]) -> Iterable[Finding]:
    versions = Counter(p.version for p in series_patches)
    usual_version = versions.most_common(1)[0][0]
    tags = Counter(_tags(p) for p in series_patches)
    usual_tags = tags.most_common(1)[0][0]
    for p in series_patches:
        if p.version != usual_version:
            yield _finding(
                ctx,
                p,
                f"'{p.subject}' is v{p.version} but the rest of the series is v{usual_version}",
                "post every patch of a series with the same version",
            )
        elif _tags(p) != usual_tags:
            have = " ".join(_tags(p)) or "no tag"
            want = " ".join(usual_tags) or "no tag"
            yield _finding(
                ctx,
                p,
                f"'{p.subject}' carries {have} but the rest of the series has {want}",
                "use the same [PATCH ...] tags on every mail of the series",
            )


def check(ctx: Context) -> Iterable[Finding]:
    series = ctx.series
    if series is None or not series.patches:
        return
    patches = list(series.patches)
    yield from _numbering(ctx, patches)
    everything = ([series.cover] if series.cover else []) + patches
    if len(everything) > 1:
        yield from _versions_and_tags(ctx, everything)
    for p in patches:
        if not _PREFIX_RE.match(p.title) and not _EXEMPT_RE.match(p.title):
            yield _finding(
                ctx,
                p,
                f"'{p.title}' has no subsystem prefix; start the title with the "
                "area it touches, e.g. 'virtio-mem: '",
                "look at `git log --oneline -- <file>` for the prefix that area uses",
            )
