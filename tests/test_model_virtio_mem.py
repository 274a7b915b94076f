"""The real 6.1 virtio_mem.c booted in the model, unpatched and with the fixture series."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchbot.validate.boot import boot

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "virtio_mem"
SRC = "drivers/virtio/virtio_mem.c"


def _patched(kernel_tree: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / SRC
    dest.parent.mkdir(parents=True)
    dest.write_text((kernel_tree / SRC).read_text())
    patch = (FIXTURES / f"{name}.patch").read_text()
    subprocess.run(
        ["patch", "-p1", "--batch", "-s", "-d", str(tmp_path)], input=patch, text=True, check=True
    )
    return dest


def _names(report) -> dict[str, set[str]]:
    by_platform: dict[str, set[str]] = {}
    for run in report.matrix.runs:
        if run.violation:
            by_platform.setdefault(run.platform, set()).add(run.violation.name)
    return by_platform


@pytest.mark.kernel_tree
def test_unmodified_driver_clean_on_none_and_hands_unaccepted_memory_on_coco(kernel_tree):
    report = boot("virtio-mem", kernel_tree)
    names = _names(report)
    assert "none" not in names
    assert names["tdx"] == {"unaccepted-to-buddy"}
    assert names["snp"] == {"unaccepted-to-buddy"}
    assert report.matrix is not None
    clean_tdx = [r for r in report.matrix.runs if r.platform == "tdx" and r.fault is None]
    assert all(
        r.violation is not None and r.violation.event.func == "virtio_mem_online_page"
        for r in clean_tdx
    )
    assert any(r.fault is not None for r in report.matrix.runs)
    finding = report.findings[0]
    assert finding.path == SRC and finding.line > 1 and finding.trace


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_correct_fixture_is_clean_with_every_single_fault(kernel_tree, tmp_path):
    report = boot("virtio-mem", kernel_tree, driver_file=_patched(kernel_tree, tmp_path, "correct"))
    assert report.findings == []
    assert report.matrix is not None
    faults = [r.fault for r in report.matrix.runs if r.fault is not None]
    assert {f.kind for f in faults} >= {"conversion", "request", "allocation", "hotplug"}
    assert {r.scenario for r in report.matrix.runs} >= {"lifecycle-sbm", "lifecycle-bbm"}
    assert {"partial-conversion"} <= {f.kind for f in faults}


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        # it never converts before unplug, so a failed MEM_CANCEL_ONLINE undo goes
        # unnoticed too (reached when the step after a cancel runs with its calls failed)
        ("no-unplug-conversion", {"unplug-private", "cancel-undo-failure-ignored"}),
        ("unplug-after-failed-conversion", {"unplug-after-failed-conversion"}),
        ("no-cancel-undo", {"cancel-without-undo"}),
        ("accept-unplugged", {"accept-unplugged"}),
        ("reconvert-on-online", {"double-accept"}),
    ],
)
def test_each_mistake_gives_its_violation(kernel_tree, tmp_path, variant, expected):
    report = boot("virtio-mem", kernel_tree, driver_file=_patched(kernel_tree, tmp_path, variant))
    names = _names(report)
    # every run (clean and each single fault) ends at its first violation, as the guest
    # would; across all of them only the variant's own mistake may show up
    assert names == {"tdx": expected, "snp": expected}
    assert {f.rule for f in report.findings} == expected
