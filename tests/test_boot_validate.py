"""`patchbot boot` / `patchbot validate` end to end, including bad input."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "virtio_mem"
SRC = "drivers/virtio/virtio_mem.c"
# Every path that takes a tree runs on both embedded trees; the fixture patches are
# written against 6.1 and re-made for 6.12 at test time (see _patch_for).
TREES = ("6.1", "6.12")


@pytest.mark.kernel_tree
@pytest.mark.parametrize("version", TREES)
def test_boot_reports_unaccepted_memory_on_tdx(run_cli, version):
    code, out, err = run_cli(
        "boot", "--tree", version, "--driver", "virtio-mem", "--platform", "tdx", "--format", "json"
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert {f["rule"] for f in findings} == {"unaccepted-to-buddy"}
    assert findings[0]["path"] == "drivers/virtio/virtio_mem.c"
    assert {f["platform"] for f in findings} == {"tdx"}


@pytest.mark.kernel_tree
@pytest.mark.parametrize("version", TREES)
def test_boot_text_is_the_lint_format_and_lists_every_platform(run_cli, version):
    code, out, err = run_cli("boot", "--tree", version, "--driver", "virtio-mem")
    assert code == 1, err
    first = out.splitlines()[0]
    # gcc style from patchbot/report, as lint prints it
    assert re.match(
        r"drivers/virtio/virtio_mem\.c:\d+:1: error: .* \[unaccepted-to-buddy\]$", first
    )
    # the same violation at the same line on tdx and snp is one finding naming both
    assert "(platform tdx,snp, fault none)" in out
    assert "in virtio_mem_online_page()" in out
    assert re.search(r"virtio-mem: \d+ runs \(\d+ with an injected fault\)", err)


@pytest.mark.kernel_tree
@pytest.mark.parametrize("version", TREES)
def test_boot_clean_on_none(run_cli, version):
    code, out, err = run_cli(
        "boot", "--tree", version, "--driver", "virtio-mem", "--platform", "none"
    )
    assert code == 0, err
    assert "0 violation(s)" in err
    assert out == "patchbot: no findings\n"


@pytest.mark.kernel_tree
@pytest.mark.parametrize("version", TREES)
def test_validate_flags_the_reconvert_variant(run_cli, version, tmp_path):
    patch = _patch_for(version, tmp_path, "reconvert-on-online")
    code, out, _ = run_cli("validate", "--tree", version, str(patch), "--platform", "snp")
    assert code == 1
    assert re.search(r"^drivers/virtio/virtio_mem\.c:\d+:1: error: .*\[double-accept\]$", out, re.M)
    assert "(platform snp, fault none)" in out


def _format_patch(subject: str, number: int, old: str, new: str) -> str:
    import difflib

    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            "a/" + SRC,
            "b/" + SRC,
        )
    )
    return (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: Patchbot Fixture <fixture@example.org>\n"
        f"Date: Sun, 22 Nov 2026 21:0{number}:00 +0000\n"
        f"Subject: [PATCH {number}/2] {subject}\n\n"
        "Test fixture.\n\nSigned-off-by: Patchbot Fixture <fixture@example.org>\n---\n"
        f"diff --git a/{SRC} b/{SRC}\n{diff}-- \n2.39.5\n\n"
    )


def _post_image(kernel_tree: Path, tmp_path: Path, variant: str) -> str:
    work = tmp_path / variant
    (work / SRC).parent.mkdir(parents=True)
    (work / SRC).write_text((kernel_tree / SRC).read_text())
    patch = (FIXTURES / f"{variant}.patch").read_text()
    # fuzz 3: 6.12 added an #include next to the 6.1 context of the first hunk
    cmd = ["patch", "-p1", "-s", "-F3", "-d", str(work)]
    subprocess.run(cmd, input=patch, text=True, check=True)
    return (work / SRC).read_text()


def _patch_for(version: str, tmp_path: Path, variant: str) -> Path:
    """The fixture patch ``variant`` made against the embedded tree ``version``."""
    from patchbot.kernel.tree import tree_for

    tree = tree_for(version)
    post = _post_image(tree, tmp_path, variant)
    out = tmp_path / f"{variant}-{version}.patch"
    out.write_text(_format_patch(f"virtio-mem: {variant}", 1, (tree / SRC).read_text(), post))
    return out


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_validate_two_patch_mbox_out_of_order_from_stdin(
    run_cli, kernel_tree, tmp_path, monkeypatch
):
    """Patch 2/2 drops the cancel undo that 1/2 added; the mbox lists 2/2 first."""
    pristine = (kernel_tree / SRC).read_text()
    good = _post_image(kernel_tree, tmp_path, "correct")
    bad = _post_image(kernel_tree, tmp_path, "no-cancel-undo")
    one = _format_patch("virtio-mem: convert plugged memory", 1, pristine, good)
    two = _format_patch("virtio-mem: drop the cancel undo", 2, good, bad)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((two + one).encode())))
    code, out, err = run_cli(
        "validate", "--tree", "6.1", "-", "--platform", "tdx", "--format", "json"
    )
    assert code == 1, err
    assert {f["rule"] for f in json.loads(out)["findings"]} == {"cancel-without-undo"}
    # the same two patches as a format-patch directory, in order: only 1/2 is clean
    series = tmp_path / "series"
    series.mkdir()
    (series / "0001-convert.patch").write_text(one)
    code, out, err = run_cli("validate", "--tree", "6.1", str(series), "--platform", "tdx")
    assert code == 0, out + err


def test_validate_series_that_does_not_apply(run_cli, kernel_tree, tmp_path):
    text = (
        (FIXTURES / "correct.patch")
        .read_text()
        .replace(
            "\tswitch (virtio_mem_sbm_get_mb_state(vm, mb_id)) {",
            "\tswitch (virtio_mem_sbm_get_state_that_is_not_there(vm)) {",
            1,
        )
    )
    bad = tmp_path / "bad.patch"
    bad.write_text(text)
    code, _, err = run_cli("validate", "--tree", "6.1", str(bad))
    assert code == 2
    assert "does not apply to drivers/virtio/virtio_mem.c" in err and "Traceback" not in err
    assert "virtio-mem: convert plugged memory in CoCo guests" in err  # names the patch
    assert len(err.strip().splitlines()) == 1


def test_tree_without_the_driver_is_input_error(run_cli, tmp_path):
    code, _, err = run_cli("boot", "--driver", "virtio-mem", "--tree", str(tmp_path))
    assert code == 2
    assert "has no drivers/virtio/virtio_mem.c" in err


def test_validate_tree_without_the_file(run_cli, tmp_path):
    code, _, err = run_cli("validate", str(FIXTURES / "correct.patch"), "--tree", str(tmp_path))
    assert code == 2
    assert "not in the tree" in err


@pytest.mark.kernel_tree
@pytest.mark.parametrize("version", TREES)
def test_lint_takes_the_tree_by_version_and_finds_exact_pre_images(run_cli, version, tmp_path):
    patch = _patch_for(version, tmp_path, "correct")
    code, out, err = run_cli("lint", "--tree", version, str(patch), "--format", "json")
    assert code in (0, 1), err
    assert "does not apply" not in err  # the pre-image came from that tree
    assert json.loads(out)["findings"] is not None
