"""A virtio driver changes behaviour for CoCo guests without a device feature bit.

What it does
------------
In a virtio driver (a file under drivers/virtio/, or one that includes a linux/virtio*.h
header and calls virtio_has_feature()/virtio_cread() or uses a struct virtio_device),
it looks for added code
that branches on cc_platform_has(...).  If the same function does not also check a
virtio feature bit (virtio_has_feature(..., VIRTIO_*_F_*)), and no function in the file
checks a feature bit whose name speaks of confidential computing (COCO, CC, ENCRYPT,
PRIVATE, SHARED, CONFIDENTIAL; see ``feature_pattern``), it asks once per file whether
the device should offer a feature bit.  In a series it asks once: branches that later
patches add to the same file are listed under the first question, and it does not ask
at all when the cover letter already raises it (names a "feature bit" or "feature
flag"): a reviewer answers an open question, they do not ask it back.

Why is this bad?
----------------
The device and the driver have to agree on the state memory is in when it is plugged
and when it is handed back.  If only the driver knows it runs in a CoCo guest, an older
device (or another hypervisor with different demands) cannot tell that the driver
converts memory, and nothing in the virtio spec records the contract.  On the virtio-mem
CoCo RFC the reviewer asked whether a device feature flag should tell that the driver
supports CoCo VMs at all.

Example
-------
```c
#include <linux/virtio.h>
#include <linux/cc_platform.h>

static int demo_virtio_plug(struct virtio_device *vdev, u64 addr, u64 size)
{
        if (cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
                return demo_set_encrypted(addr, size);
        return 0;
}
```

Use instead
-----------
```c
#include <linux/virtio.h>
#include <linux/cc_platform.h>

static int demo_virtio_plug(struct virtio_device *vdev, u64 addr, u64 size)
{
        if (virtio_has_feature(vdev, VIRTIO_DEMO_F_COCO) &&
            cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
                return demo_set_encrypted(addr, size);
        return 0;
}
```

Known false positives
---------------------
Drivers whose CoCo handling is purely guest-internal (bounce buffers, DMA API) need no
device contract; the rule cannot tell those apart, so it is phrased as a question with
severity info.  A feature negotiated in another file of the driver is not seen.

References
----------
- "Re: [PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments",
  David Hildenbrand, 2026-04-01: "Should we indicate through a device feature flag that
  the driver actually supports CoCo VMs?" and "Should that be specified in the spec?"
- include/linux/virtio_config.h: virtio_has_feature(); include/linux/cc_platform.h.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse.parse import function_at
from patchbot.patterns import Token, line_counts, scan

RULE = Rule(
    id="cc-without-feature-bit",
    severity=Severity.INFO,
    scope="file",
    summary="a virtio driver branches on cc_platform_has() without a device feature bit",
    confidence="heuristic",
    once_per_series=True,
    options={
        "feature_pattern": r"VIRTIO_\w*(?:COCO|_CC|CONFIDENTIAL|ENCRYPT|PRIVATE|SHARED)\w*",
    },
)

# [ \t], not \s: with \s a blank-line run is rescanned from every line start in it, and a
# hunk-only image of a hunk at line 1,000,000 is a million blank lines (35 s for a
# 415-byte mail).  With [ \t] each position is rejected after a character or two.
_VIRTIO_INCLUDE_RE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*<linux/virtio\w*\.h>", re.MULTILINE)
_VIRTIO_CALLS = frozenset({"virtio_has_feature", "virtio_cread", "__virtio_test_bit"})
_FEATURE_RE = re.compile(r"VIRTIO_\w*_F_\w+")
_CHECKS = frozenset({"virtio_has_feature", "__virtio_test_bit"})
_RAISED_RE = re.compile(r"\bfeature[\s-]+(?:bit|flag)s?\b", re.IGNORECASE)


def _is_virtio_driver(path: str, text: str, tokens: Sequence[Token]) -> bool:
    """drivers/virtio/, or a file that includes a virtio header and drives a device
    (calls virtio_has_feature()/virtio_cread() or uses struct virtio_driver/virtio_device).
    Arch code that merely includes virtio_config.h to set a policy is not a driver."""
    if "drivers/virtio/" in path:
        return True
    if not _VIRTIO_INCLUDE_RE.search(text):
        return False
    for i, tok in enumerate(tokens):
        if tok.text in _VIRTIO_CALLS:
            return True
        if tok.text in ("virtio_driver", "virtio_device") and i and tokens[i - 1].text == "struct":
            return True
    return False


def _device_name(path: str) -> str:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.replace("_", "-") if stem.startswith("virtio") else "this virtio driver"


def _feature_checks(tokens: Sequence[Token]) -> list[tuple[int, str]]:
    """(line, feature name) for every virtio_has_feature(..., VIRTIO_X_F_Y) call."""
    out: list[tuple[int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.text not in _CHECKS:
            continue
        depth = 0
        for nxt in tokens[i + 1 : i + 40]:
            if nxt.text == "(":
                depth += 1
            elif nxt.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif _FEATURE_RE.fullmatch(nxt.text):
                out.append((tok.line, nxt.text))
    return out


def _raised_in_cover(ctx: Context) -> bool:
    cover = ctx.series.cover if ctx.series else None
    return cover is not None and bool(_RAISED_RE.search(cover.body))


def check(ctx: Context) -> Iterable[Finding]:
    if ctx.file is None or _raised_in_cover(ctx):
        return
    text = ctx.file.text
    if "cc_platform_has" not in text:
        return  # most files: nothing to ask
    tokens, _comments = scan(text)
    if not _is_virtio_driver(ctx.file.path, text, tokens):
        return
    opts = {**RULE.options, **ctx.options}
    coco_feature = re.compile(str(opts["feature_pattern"]))
    checks = _feature_checks(tokens)
    if any(coco_feature.fullmatch(name) for _line, name in checks):
        return  # the driver negotiates a CoCo feature somewhere
    checked_functions = {
        span.name for line, _name in checks if (span := function_at(text, line)) is not None
    }
    branches: list[tuple[int, str | None, str]] = []
    for i, tok in enumerate(tokens[:-3]):
        if tok.text != "cc_platform_has" or tokens[i + 1].text != "(":
            continue
        if not line_counts(ctx.file.added, tok.line):
            continue
        span = function_at(text, tok.line)
        name = span.name if span else None
        if name in checked_functions:
            continue
        branches.append((tok.line, name, tokens[i + 2].text))
    if not branches:
        return
    line, function, attr = branches[0]
    device = _device_name(ctx.file.path)
    yield ctx.finding(
        f"{device} behaves differently when cc_platform_has({attr}); should the device "
        "offer a feature bit so the driver can tell whether the device supports CoCo guests?",
        line,
        function=function,
        related=[Location(ctx.file.path, ln, function=fn) for ln, fn, _a in branches[1:]],
        suggestion="negotiate a VIRTIO_*_F_* feature for the CoCo memory contract (and "
        "specify it in the virtio spec) before changing behaviour",
    )
