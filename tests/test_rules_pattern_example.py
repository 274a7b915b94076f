"""The bundled example series: every review rule of the RFC thread fires on it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "virtio-mem-coco-rfc.mbox"

OUR_RULES = {
    "duplicated-logic",
    "repeated-expression",
    "restating-comment",
    "terminology-mismatch",
    "cc-without-feature-bit",
    "missing-signoff",
    "malformed-assisted-by",
    "malformed-fixes-tag",
    "changelog-above-cut",
    "inconsistent-series-prefix",
}


def _findings(run_cli, *extra: str) -> tuple[int, list[dict]]:
    code, out, err = run_cli("lint", "--format", "json", *extra, str(EXAMPLE))
    assert "Traceback" not in err
    data = json.loads(out)
    findings = data["findings"] if isinstance(data, dict) else data
    return code, findings


def test_example_fires_every_review_rule(run_cli) -> None:
    code, findings = _findings(run_cli)
    assert code == 1
    fired = {f["rule"] for f in findings}
    assert fired >= OUR_RULES, f"silent on the example: {sorted(OUR_RULES - fired)}"
    twin = next(f for f in findings if f["rule"] == "duplicated-logic")
    assert twin["patch"]["label"] == "2/3"
    assert "virtio_mem_sbm_coco_share_mb()" in twin["message"]


def test_example_text_report_exit_code(run_cli) -> None:
    code, out, _err = run_cli("lint", str(EXAMPLE))
    assert code == 1
    assert "[duplicated-logic]" in out and "[missing-signoff]" in out


@pytest.mark.kernel_tree
def test_example_applies_to_the_real_tree(kernel_tree: Path, tmp_path: Path) -> None:
    """The series is a real diff against 6.1 virtio_mem.c: git apply accepts all of it."""
    target = tmp_path / "drivers" / "virtio"
    target.mkdir(parents=True)
    src = kernel_tree / "drivers" / "virtio" / "virtio_mem.c"
    (target / "virtio_mem.c").write_bytes(src.read_bytes())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    # git apply takes the whole mbox and applies the three patches in order
    result = subprocess.run(
        ["git", "apply", "--check", "-v", str(EXAMPLE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_example_with_tree_shows_the_coco_path_bugs(run_cli, kernel_tree: Path) -> None:
    code, findings = _findings(run_cli, "--tree", str(kernel_tree))
    assert code == 1
    by_rule = {(f["rule"], f["patch"]["label"]) for f in findings}
    # a failed conversion followed by handing pages to the allocator, in 2/3 and 3/3
    assert ("leak-on-failure", "2/3") in by_rule
    assert ("leak-on-failure", "3/3") in by_rule
    # a failed set_memory_decrypted() and the subblocks are unplugged anyway
    assert ("decrypt-before-unplug", "3/3") in by_rule
    assert {r for r, _p in by_rule} >= OUR_RULES
