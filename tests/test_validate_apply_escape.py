"""validate's apply step never writes outside its scratch tree (issue 15).

Hostile series of our own: a symlink patch followed by a patch beneath it, symlink
mode changes, and a scratch tree whose directory is already a link out.  Each is
refused with one line (exit 2 from the CLI) and nothing appears outside.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from patchbot.errors import InputError
from patchbot.validate.apply import apply_series, read_series

FILE = "mm/memory.c"
PRE = "int a;\nint b;\nint c;\n"


def _mail(number: int, total: int, title: str, diff: str) -> str:
    return (
        f"From {number} Mon Sep 17 00:00:00 2001\n"
        "From: Ada Example <ada@example.org>\n"
        f"Subject: [PATCH {number}/{total}] mm: {title}\n"
        "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
        f"Message-ID: <{number}@example.org>\n\n"
        f"{title}\n\nSigned-off-by: Ada Example <ada@example.org>\n---\n"
        f"{diff}-- \n2.39.5\n\n"
    )


def _symlink_diff(name: str, target: str) -> str:
    return (
        f"diff --git a/{name} b/{name}\nnew file mode 120000\nindex 0000000..1111111\n"
        f"--- /dev/null\n+++ b/{name}\n@@ -0,0 +1 @@\n+{target}\n"
        "\\ No newline at end of file\n"
    )


EDIT = (
    f"diff --git a/{FILE} b/{FILE}\nindex 1111111..2222222 100644\n"
    f"--- a/{FILE}\n+++ b/{FILE}\n@@ -1,3 +1,4 @@\n int a;\n+int owned;\n int b;\n int c;\n"
)
NEW_BENEATH = (
    "diff --git a/mm/pwned b/mm/pwned\nnew file mode 100644\nindex 0000000..1111111\n"
    "--- /dev/null\n+++ b/mm/pwned\n@@ -0,0 +1 @@\n+owned\n"
)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """(a tiny tree with mm/memory.c, an empty directory the series aims at)."""
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FILE).write_text(PRE)
    outside = tmp_path / "outside"
    outside.mkdir()
    return tree, outside


def _series_file(tmp_path: Path, *diffs: tuple[str, str]) -> Path:
    path = tmp_path / "series.mbox"
    path.write_text("".join(_mail(k, len(diffs), t, d) for k, (t, d) in enumerate(diffs, 1)))
    return path


@pytest.mark.parametrize("second", [EDIT, NEW_BENEATH], ids=["edit-beneath", "new-beneath"])
def test_symlink_then_file_beneath_is_refused_and_nothing_escapes(site, tmp_path, second):
    tree, outside = site
    mbox = _series_file(
        tmp_path, ("link the directory out", _symlink_diff("mm", str(outside))), ("edit", second)
    )
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(InputError, match=r"patch 1/2 .*mm.*symbolic link"):
        apply_series(read_series([str(mbox)]), tree, scratch)
    assert list(outside.iterdir()) == []
    assert not any(p.is_symlink() for p in scratch.rglob("*"))


def test_validate_cli_refuses_the_symlink_series_with_one_line(site, tmp_path, run_cli):
    tree, outside = site
    mbox = _series_file(
        tmp_path, ("link the directory out", _symlink_diff("mm", str(outside))), ("edit", EDIT)
    )
    code, out, err = run_cli("validate", "--tree", str(tree), str(mbox))
    assert code == 2, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "symbolic link" in err
    assert "Traceback" not in err
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    "header",
    [
        "old mode 100644\nnew mode 120000\n",  # a mode change that makes the file a link
        "index 1111111..2222222 120000\n",  # the mode carried on the index line
        "deleted file mode 120000\n",
        "new mode  120000\n",  # patch(1) skips the extra blank
    ],
    ids=["mode-change", "index-mode", "deleted-link", "two-blanks"],
)
def test_every_symlink_mode_is_refused(site, tmp_path, header):
    tree, _ = site
    diff = (
        f"diff --git a/{FILE} b/{FILE}\n{header}--- a/{FILE}\n+++ b/{FILE}\n"
        "@@ -1,3 +1,4 @@\n int a;\n+int b2;\n int b;\n int c;\n"
    )
    mbox = _series_file(tmp_path, ("mode", diff))
    with pytest.raises(InputError, match=r"mm/memory\.c.*symbolic link"):
        apply_series(read_series([str(mbox)]), tree, tmp_path / "scratch")


def test_a_link_already_in_the_scratch_tree_is_not_followed(site, tmp_path):
    # whatever put it there (an earlier step, a patch(1) header we did not foresee), a
    # destination whose existing components resolve outside the scratch is refused
    tree, outside = site
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    os.symlink(outside, scratch / "mm")
    mbox = _series_file(tmp_path, ("edit", EDIT))
    with pytest.raises(InputError, match=r"mm/memory\.c.*outside the scratch tree"):
        apply_series(read_series([str(mbox)]), tree, scratch)
    assert list(outside.iterdir()) == []


def test_a_tree_file_that_resolves_outside_the_tree_is_not_copied(site, tmp_path):
    tree, outside = site
    secret = outside / "secret.c"
    secret.write_text(PRE)
    (tree / FILE).unlink()
    os.symlink(secret, tree / FILE)
    mbox = _series_file(tmp_path, ("edit", EDIT))
    with pytest.raises(InputError, match=r"mm/memory\.c.*outside the tree"):
        apply_series(read_series([str(mbox)]), tree, tmp_path / "scratch")


def test_an_ordinary_series_still_applies(site, tmp_path):
    tree, _ = site
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    mbox = _series_file(tmp_path, ("edit", EDIT), ("new", NEW_BENEATH))
    applied = apply_series(read_series([str(mbox)]), tree, scratch)
    assert applied.touched == ["mm/memory.c", "mm/pwned"]
    assert (scratch / FILE).read_text() == "int a;\nint owned;\nint b;\nint c;\n"
    assert (tree / FILE).read_text() == PRE


def test_validate_kernel_refuses_a_symlink_diff_before_git_am(site, tmp_path, run_cli):
    # git am would apply the link itself (only a file beneath it is refused), and the
    # build would read through it; the refusal comes before any worktree or build
    tree, outside = site
    for needed in ("Makefile", "scripts/kconfig/merge_config.sh", "arch/x86/Kconfig"):
        (tree / needed).parent.mkdir(parents=True, exist_ok=True)
        (tree / needed).write_text("")
    link = _symlink_diff("drivers/virtio/virtio_mem.c", str(outside / "secret"))
    mbox = _series_file(tmp_path, ("link a driver out", link))
    code, _, err = run_cli("validate", "--kernel", "--tree", str(tree), str(mbox))
    assert code == 2, err
    assert "symbolic link" in err and len(err.strip().splitlines()) == 1


def test_a_link_patch1_creates_is_caught_after_the_patch(site, tmp_path, monkeypatch):
    # the second layer on its own: were the header check ever to miss a form patch(1)
    # understands, the link it leaves is found before the next patch copies anything
    import patchbot.validate.apply as apply

    tree, outside = site
    monkeypatch.setattr(apply, "refuse_symlinks", lambda series: None)
    mbox = _series_file(
        tmp_path, ("link the directory out", _symlink_diff("mm", str(outside))), ("edit", EDIT)
    )
    scratch = tmp_path / "scratch"
    with pytest.raises(InputError, match=r"patch 1/2 .*leaves a symbolic link.*: mm$"):
        apply_series(read_series([str(mbox)]), tree, scratch)
    assert list(outside.iterdir()) == []
