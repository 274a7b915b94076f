"""Report formats: text, json, sarif, b4 (review check-cmd JSON), checkpatch (terse
lines for b4 prep/am --check) and review (an email reply)."""

from __future__ import annotations

from collections.abc import Callable

from patchbot.engine import LintResult
from patchbot.report import b4, checkpatch, jsonout, review, sarif, text

RENDERERS: dict[str, Callable[[LintResult], str]] = {
    "text": text.render,
    "json": jsonout.render,
    "sarif": sarif.render,
    "b4": b4.render,
    "checkpatch": checkpatch.render,
    "review": review.render,
}
FORMATS = tuple(RENDERERS)


def render(result: LintResult, fmt: str) -> str:
    return RENDERERS[fmt](result)
