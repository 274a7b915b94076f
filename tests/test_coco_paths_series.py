"""A patch that reintroduces a known leak-on-failure bug into the real 6.1 tree.

kernel/dma/direct.c in linux-source-6.1 leaks the pages when dma_set_decrypted() fails
in dma_direct_alloc_pages() (``goto out_leak_pages``).  Our fixture patch turns that
into a free through __dma_direct_free_pages(), the bug upstream fixed in 2024.  The
patch is applied with real git to a scratch copy of the real file (the cache is never
touched) and linted with the real CLI against a scratch tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from patchbot.testing import check_expected_patch, lint_c_text, lint_patch_file
from tests.conftest import FIXTURES

SERIES = FIXTURES / "coco_series" / "dma-direct-free-on-decrypt-failure"
PATCH = SERIES / "0001-dma-direct-free-the-pages-when-dma_set_decrypted-fails.patch"
TARGET = "kernel/dma/direct.c"
FAIL_LINE, FREE_LINE = 379, 385


@pytest.fixture
def scratch_tree(kernel_tree: Path, tmp_path: Path) -> Path:
    """A tree holding only a copy of the real kernel/dma/direct.c."""
    tree = tmp_path / "tree"
    (tree / "kernel" / "dma").mkdir(parents=True)
    shutil.copy(kernel_tree / TARGET, tree / TARGET)
    return tree


@pytest.mark.kernel_tree
def test_patch_applies_to_the_real_file(scratch_tree: Path, kernel_tree: Path) -> None:
    subprocess.run(["git", "apply", str(PATCH)], cwd=scratch_tree, check=True)
    post = (scratch_tree / TARGET).read_text().split("\n")
    assert "dma_set_decrypted(dev, ret, size)" in post[FAIL_LINE - 1]
    assert post[FREE_LINE - 1].strip() == "__dma_direct_free_pages(dev, page, size);"
    assert (kernel_tree / TARGET).read_text() != (scratch_tree / TARGET).read_text()


@pytest.mark.kernel_tree
def test_lint_with_tree_reports_the_leak_with_its_path(scratch_tree: Path, run_cli) -> None:
    code, out, err = run_cli(
        "lint",
        str(PATCH),
        "--tree",
        str(scratch_tree),
        "--format",
        "json",
        "--select",
        "leak-on-failure",
    )
    assert code == 1, err
    (finding,) = json.loads(out)["findings"]
    assert (finding["rule"], finding["path"], finding["line"]) == (
        "leak-on-failure",
        TARGET,
        FREE_LINE,
    )
    assert finding["function"] == "dma_direct_alloc_pages"
    trace = [(step["line"], step["note"]) for step in finding["trace"]]
    assert trace[0] == (FAIL_LINE, "dma_set_decrypted() fails here")
    assert trace[-1] == (FREE_LINE, "__dma_direct_free_pages() called here")
    assert (FAIL_LINE + 1, "goto out_free_pages") in trace


def test_hunk_only_lint_matches_the_expected_sidecar() -> None:
    # Without a tree the file is rebuilt from the hunk, which starts inside the body.
    result = check_expected_patch(PATCH)
    (finding,) = result.findings
    assert [t.line for t in finding.trace] == [FAIL_LINE, FAIL_LINE, FAIL_LINE + 1, FREE_LINE]


@pytest.mark.kernel_tree
def test_unpatched_real_file_is_clean(kernel_tree: Path) -> None:
    text = (kernel_tree / TARGET).read_text()
    rules = ["leak-on-failure", "free-while-shared", "shared-mapping-encrypted"]
    result = lint_c_text(text, rules, TARGET)
    assert not result.errors
    assert [(f.rule, f.line) for f in result.findings] == []


@pytest.mark.kernel_tree
@pytest.mark.parametrize(
    ("path", "free_line", "conversion_line"),
    [
        # 6.1 still frees after a failed set_memory_decrypted() here (fixed upstream later)
        ("drivers/virt/coco/sev-guest/sev-guest.c", 713, 710),
        ("drivers/ptp/ptp_kvm_x86.c", 39, 37),
        ("arch/x86/kernel/kvmclock.c", 231, 228),
    ],
)
def test_real_6_1_free_after_failed_decrypt(
    kernel_tree: Path, path: str, free_line: int, conversion_line: int
) -> None:
    text = (kernel_tree / path).read_text()
    result = lint_c_text(text, ["leak-on-failure"], path)
    hits = {f.line: f for f in result.findings}
    assert free_line in hits
    assert hits[free_line].trace[0].line == conversion_line
    assert hits[free_line].trace[0].note.endswith("fails here")


CLEAN = (
    FIXTURES
    / "coco_series"
    / "dma-direct-reencrypt-then-free"
    / "0001-dma-direct-try-to-re-encrypt-before-giving-up-on-the-pages.patch"
)
OUR_RULES = [
    "leak-on-failure",
    "free-while-shared",
    "decrypt-before-unplug",
    "shared-mapping-encrypted",
]


@pytest.mark.kernel_tree
def test_reencrypt_then_free_variant_is_clean(scratch_tree: Path, run_cli) -> None:
    subprocess.run(["git", "apply", "--check", str(CLEAN)], cwd=scratch_tree, check=True)
    code, out, err = run_cli(
        "lint",
        str(CLEAN),
        "--tree",
        str(scratch_tree),
        "--format",
        "json",
        "--select",
        ",".join(OUR_RULES),
    )
    assert code == 0, out + err
    assert json.loads(out)["findings"] == []
    assert check_expected_patch(CLEAN, OUR_RULES).findings == []


@pytest.mark.kernel_tree
def test_unpatched_virtio_mem_is_clean(kernel_tree: Path) -> None:
    path = "drivers/virtio/virtio_mem.c"
    result = lint_c_text((kernel_tree / path).read_text(), OUR_RULES, path)
    assert not result.errors
    assert [(f.rule, f.line) for f in result.findings] == []


VIRTIO_MEM = "drivers/virtio/virtio_mem.c"
SHARE_BEFORE_UNPLUG = (
    FIXTURES
    / "coco_series"
    / "virtio-mem-share-before-unplug"
    / "0001-virtio-mem-share-online-subblocks-before-unplugging-them.patch"
)


@pytest.mark.kernel_tree
def test_virtio_mem_share_before_unplug_error_paths(
    kernel_tree: Path, tmp_path: Path, run_cli
) -> None:
    from patchbot.testing import read_expected

    tree = tmp_path / "tree"
    (tree / "drivers" / "virtio").mkdir(parents=True)
    shutil.copy(kernel_tree / VIRTIO_MEM, tree / VIRTIO_MEM)
    subprocess.run(["git", "apply", "--check", str(SHARE_BEFORE_UNPLUG)], cwd=tree, check=True)
    code, out, err = run_cli(
        "lint",
        str(SHARE_BEFORE_UNPLUG),
        "--tree",
        str(tree),
        "--format",
        "json",
        "--select",
        ",".join(OUR_RULES),
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    got = {(f["rule"], f"{f['path']}:{f['line']}") for f in findings}
    expected = read_expected(SHARE_BEFORE_UNPLUG.with_name(SHARE_BEFORE_UNPLUG.name + ".expected"))
    assert got == expected
    assert all(f["function"] == "virtio_mem_sbm_unplug_sb_online" for f in findings)
    # the wrapper added by the patch is recognised as the failing conversion
    assert all(f["trace"][0]["note"].startswith("virtio_mem_coco_set_shared()") for f in findings)


ENCRYPT_ON_ONLINE = (
    FIXTURES
    / "coco_series"
    / "virtio-mem-encrypt-on-online"
    / "0001-virtio-mem-make-plugged-subblocks-private-when-they-go-online.patch"
)


@pytest.mark.kernel_tree
def test_encrypt_on_online_path_reports_untouched_unplug_paths(
    kernel_tree: Path, tmp_path: Path, run_cli
) -> None:
    """The patch only touches the MEM_GOING_ONLINE path; the unplug functions that hand the
    now-private memory back are unchanged, so the finding sits on the added conversion and
    names them in ``related``."""
    from patchbot.testing import read_expected

    tree = tmp_path / "tree"
    (tree / "drivers" / "virtio").mkdir(parents=True)
    shutil.copy(kernel_tree / VIRTIO_MEM, tree / VIRTIO_MEM)
    subprocess.run(["git", "apply", "--check", str(ENCRYPT_ON_ONLINE)], cwd=tree, check=True)
    code, out, err = run_cli(
        "lint", str(ENCRYPT_ON_ONLINE), "--tree", str(tree), "--format", "json",
        "--select", ",".join(OUR_RULES),
    )  # fmt: skip
    assert code == 1, err
    findings = json.loads(out)["findings"]
    got = {(f["rule"], f"{f['path']}:{f['line']}") for f in findings}
    assert got == read_expected(ENCRYPT_ON_ONLINE.with_name(ENCRYPT_ON_ONLINE.name + ".expected"))
    (finding,) = findings
    assert finding["function"] == "virtio_mem_sbm_notify_going_online"
    assert "virtio_mem_sbm_unplug_sb() in virtio_mem_sbm_unplug_sb_online()" in finding["message"]
    # every related site is an unplug call, in an unplug function the patch left alone
    subprocess.run(["git", "apply", str(ENCRYPT_ON_ONLINE)], cwd=tree, check=True)
    post = (tree / VIRTIO_MEM).read_text().split("\n")
    related = {(r["function"], r["line"]) for r in finding["related"]}
    assert ("virtio_mem_sbm_unplug_sb_online", 1942) in related
    for function, line in related:
        assert "unplug" in post[line - 1], (function, line, post[line - 1])
        assert function.startswith("virtio_mem_sbm_unplug_")
        assert function.endswith(("_online", "_offline"))


def test_encrypt_on_online_path_hunk_only_stays_quiet() -> None:
    """Without the tree the unplug paths are not visible: nothing to report."""
    result = lint_patch_file(ENCRYPT_ON_ONLINE, ["decrypt-before-unplug"])
    assert not result.errors
    assert [f.line for f in result.findings] == []
