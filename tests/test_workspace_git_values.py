"""The kernel workspace never hands a series' text to git as an option (issue 16, 13).

The base comes from a series' base-commit: trailer; validate/kernel.py only accepts hex
there, and resolve_base() itself puts --end-of-options before it as well.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchbot.errors import InputError
from patchbot.kernel.workspace import resolve_base, workspace_for


@pytest.fixture
def small_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with the three files check_kernel_tree() looks for."""
    monkeypatch.setenv("PATCHBOT_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "linux"
    for name in ("Makefile", "scripts/kconfig/merge_config.sh", "arch/x86/Kconfig"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("# ours\n")
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(tree), *ident, *cmd], check=True)
    return tree


@pytest.mark.parametrize("base", ["--output={out}", "--git-path={out}", "-q"])
def test_an_option_shaped_base_is_not_a_commit(small_tree, tmp_path, base):
    out = tmp_path / "victim"
    ws = workspace_for(small_tree)
    with pytest.raises(InputError, match="is not a commit"):
        resolve_base(ws, base.format(out=out))
    assert not out.exists()


def test_a_real_base_resolves(small_tree):
    head = subprocess.run(
        ["git", "-C", str(small_tree), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    ws = workspace_for(small_tree)
    assert resolve_base(ws, head[:12]) == head
    assert resolve_base(ws, None) == head
