"""Tiny rule modules written by the engine tests into a temporary rule directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

CALL_RULE = '''
"""Flags calls to a configured function."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-call", severity=Severity.WARNING, scope="file",
            summary="calls a function the demo forbids", aliases=("old-demo-call",),
            options={"call": "frob"})


def check(ctx):
    needle = ctx.options["call"] + "("
    for number, line in enumerate(ctx.file.lines, start=1):
        if needle in line:
            yield ctx.finding(f"{ctx.options['call']}() is forbidden here", number)
'''

CRASH_RULE = '''
"""Always crashes."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-crash", severity=Severity.ERROR, scope="file", summary="crashes")


def check(ctx):
    raise RuntimeError("boom")
'''

PATCH_RULE = '''
"""Wants a Signed-off-by."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-signoff", severity=Severity.ERROR, scope="patch",
            summary="patch has no Signed-off-by")


def check(ctx):
    if not any(t.key.lower() == "signed-off-by" for t in ctx.patch.trailers):
        yield ctx.finding(f"[PATCH {ctx.patch.label}] has no Signed-off-by", 0, path="")
'''

SERIES_RULE = '''
"""Counts files."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-count", severity=Severity.INFO, scope="series",
            summary="reports how many C files the series touches")


def check(ctx):
    paths = sorted({f.path for f in ctx.files})
    if len(paths) > 1:
        yield ctx.finding(f"touches {len(paths)} C files", 1, path=paths[0])
'''


def trust_directory(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh user config ($XDG_CONFIG_HOME under ``directory``) whose trust file lists
    ``directory``, so a .patchbot.toml found there may set rule-dirs."""
    from patchbot.config import trusted_file

    monkeypatch.setenv("XDG_CONFIG_HOME", str(directory / ".xdg"))
    trusted_file().parent.mkdir(parents=True)
    trusted_file().write_text(f"{directory}\n")


def write_rules(directory: Path, **modules: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in modules.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(body).lstrip())
    return directory


COUNT_RULE = '''
"""Mentions line numbers in its message, like real rules do."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-count-calls", severity=Severity.WARNING, scope="file",
            summary="counts frob() calls")


def check(ctx):
    lines = [n for n, text in enumerate(ctx.file.lines, start=1) if "frob(" in text]
    if len(lines) > 1:
        others = ", ".join(str(n) for n in lines[1:])
        yield ctx.finding(f"frob() is called {len(lines)} times (also on lines {others})",
                          lines[0])
'''
