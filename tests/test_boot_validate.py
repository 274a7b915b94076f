"""`patchbot boot` / `patchbot validate` end to end, including bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "virtio_mem"


@pytest.mark.kernel_tree
def test_boot_reports_unaccepted_memory_on_tdx(run_cli, kernel_tree):
    code, out, err = run_cli(
        "boot", "--driver", "virtio-mem", "--platform", "tdx", "--format", "json"
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert {f["rule"] for f in findings} == {"unaccepted-to-buddy"}
    assert findings[0]["path"] == "drivers/virtio/virtio_mem.c"


@pytest.mark.kernel_tree
def test_boot_clean_on_none(run_cli, kernel_tree):
    code, out, err = run_cli("boot", "--driver", "virtio-mem", "--platform", "none")
    assert code == 0, err
    assert "0 violation(s)" in out


@pytest.mark.kernel_tree
def test_validate_flags_the_reconvert_variant(run_cli, kernel_tree):
    code, out, _ = run_cli(
        "validate", str(FIXTURES / "reconvert-on-online.patch"), "--platform", "snp"
    )
    assert code == 1
    assert "double-accept" in out and "virtio_mem.c:" in out


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
    code, _, err = run_cli("validate", str(bad))
    assert code == 2
    assert "does not apply" in err and "Traceback" not in err


def test_tree_without_the_driver_is_input_error(run_cli, tmp_path):
    code, _, err = run_cli("boot", "--driver", "virtio-mem", "--tree", str(tmp_path))
    assert code == 2
    assert "has no drivers/virtio/virtio_mem.c" in err


def test_validate_tree_without_the_file(run_cli, tmp_path):
    code, _, err = run_cli("validate", str(FIXTURES / "correct.patch"), "--tree", str(tmp_path))
    assert code == 2
    assert "not in the tree" in err
