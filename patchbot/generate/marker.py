"""The header `patchbot generate series` puts on every mail it writes.

It says which feature the series is and whether it was made with --signoff, so that
`patchbot validate --kernel` can tell a sign-off patchbot left out on purpose (the
author adds it) from one a contributor forgot.  git am drops X- headers, so nothing of
it reaches a commit.
"""

from __future__ import annotations

GENERATED_HEADER = "X-Patchbot-Generated"


def generated_value(feature: str, signoff: bool) -> str:
    """``patchbot generate series virtio-mem-coco [--signoff]``: the command that wrote it."""
    return f"patchbot generate series {feature}" + (" --signoff" if signoff else "")
