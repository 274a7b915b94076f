"""`patchbot lint` inside a kernel tree: the tree it stands in gives the pre-images (as
checkpatch.pl finds its tree), and a diff's `index` blob gives the exact pre-image even
after the tree's HEAD moved on.  The tree is a small git repository of our own with the
files a kernel tree has at its top."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from patchbot.kernel.enclosing import enclosing_kernel_tree
from patchbot.series.diffparse import parse_diff
from patchbot.series.load import git_blob, load_series

PATH = "drivers/demo/demo_share.c"
# The decrypt and its check are far above the error path the patch edits: a hunk with
# three lines of context shows neither, so only the whole file explains the leak.
V1 = """// SPDX-License-Identifier: GPL-2.0
#include <linux/set_memory.h>
#include <linux/slab.h>

static void *demo_share_page(struct demo_dev *d)
{
	unsigned long addr = __get_free_page(GFP_KERNEL);
	int rc;

	if (!addr)
		return NULL;
	rc = set_memory_decrypted(addr, 1);
	d->shared_calls++;
	d->last_addr = addr;
	d->pages++;
	d->state = DEMO_SHARING;
	d->flags |= DEMO_F_BUSY;
	d->retries = 0;
	if (rc) {
		d->state = DEMO_FAILED;
		return NULL;
	}
	return (void *)addr;
}
"""
# what the patch makes of it: the error path frees the page that may be shared
V1_PATCHED = V1.replace(
    "\t\td->state = DEMO_FAILED;\n", "\t\td->state = DEMO_FAILED;\n\t\tfree_page(addr);\n"
)
# the tree moved on: the lines around the error path changed, so the patch no longer
# applies to the checked-out file
V2 = V1.replace("\t\td->state = DEMO_FAILED;\n", "\t\td->state = DEMO_BROKEN;\n")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.fixture
def kernel_like(tmp_path: Path) -> tuple[Path, Path]:
    """(tree, patch): a kernel-shaped git tree at V2 and a patch made against V1."""
    tree = tmp_path / "linux"
    for name in ("MAINTAINERS", "Kbuild", "scripts/checkpatch.pl", PATH):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("")
    (tree / PATH).write_text(V1)
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "base")
    (tree / PATH).write_text(V1_PATCHED)
    diff = git(tree, "diff")
    git(tree, "checkout", "-q", "--", PATH)
    (tree / PATH).write_text(V2)
    git(tree, "commit", "-qam", "moved on")
    patch = tmp_path / "0001-free.patch"
    patch.write_text(
        "From: Ada Example <ada@example.org>\n"
        "Subject: [PATCH] demo: free the page when sharing fails\n\n"
        "Do not keep the page.\n\nSigned-off-by: Ada Example <ada@example.org>\n---\n"
        f"{diff}-- \n2.39.5\n"
    )
    return tree, patch


def test_enclosing_tree_is_found_from_a_subdirectory(kernel_like, tmp_path):
    tree, _patch = kernel_like
    assert enclosing_kernel_tree(tree / "drivers" / "demo") == tree.resolve()
    assert enclosing_kernel_tree(tmp_path) is None


def test_index_line_names_the_pre_image_blob_and_the_tree_holds_it(kernel_like):
    tree, patch = kernel_like
    (fd,) = parse_diff(patch.read_text().split("\n---\n", 1)[1]).files
    assert fd.old_blob and len(fd.old_blob) >= 7
    assert git_blob(tree, fd.old_blob) == V1.encode()
    assert git_blob(tree, "--output=/tmp/x") is None and git_blob(tree, "0" * 12) is None
    series = load_series([str(patch)], tree=str(tree))
    assert series.pre_images[PATH] == V1  # not the checked-out V2


def test_lint_inside_the_tree_uses_it_and_the_exact_pre_image(kernel_like, run_cli, monkeypatch):
    tree, patch = kernel_like
    monkeypatch.chdir(tree / "drivers")
    code, out, err = run_cli("lint", str(patch), "--format", "json", "--select", "leak-on-failure")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["series"]["patches"][0]["applicable"], doc["series"]
    free_line = V1_PATCHED.splitlines().index("\t\tfree_page(addr);") + 1
    assert [(f["rule"], f["path"], f["line"]) for f in doc["findings"]] == [
        ("leak-on-failure", PATH, free_line)
    ]
    # --no-tree: only the hunks, which do not show the decrypt
    code, out, err = run_cli(
        "lint", str(patch), "--format", "json", "--select", "leak-on-failure", "--no-tree"
    )
    assert code == 0 and json.loads(out)["findings"] == [], err
