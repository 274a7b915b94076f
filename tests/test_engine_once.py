"""A once-per-series question is asked once: later patches fold into the first finding."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from patchbot.api import Finding, Location, Severity
from patchbot.engine.once import ask_once

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "virtio-mem-coco-rfc.mbox"


def _finding(rule: str, path: str, line: int, patch: str, related=()) -> Finding:
    return Finding(
        rule=rule,
        severity=Severity.INFO,
        message="should the device offer a feature bit?",
        path=path,
        line=line,
        patch=patch,
        related=list(related),
    )


def test_later_patches_become_related_locations_of_the_first():
    first = _finding("q", "drivers/virtio/a.c", 10, "1/3", [Location("drivers/virtio/a.c", 12)])
    second = _finding("q", "drivers/virtio/a.c", 40, "2/3", [Location("drivers/virtio/a.c", 44)])
    other_file = _finding("q", "drivers/virtio/b.c", 5, "2/3")
    other_rule = _finding("r", "drivers/virtio/a.c", 40, "2/3")

    kept = ask_once([first, second, other_file, other_rule], {"q"})

    assert [(f.rule, f.path, f.line) for f in kept] == [
        ("q", "drivers/virtio/a.c", 10),
        ("q", "drivers/virtio/b.c", 5),
        ("r", "drivers/virtio/a.c", 40),
    ]
    assert [(loc.line, loc.note) for loc in kept[0].related] == [
        (12, ""),
        (40, "also in [PATCH 2/3]"),
        (44, "also in [PATCH 2/3]"),
    ]
    assert first.related == [Location("drivers/virtio/a.c", 12)]  # the input is not mutated


def test_the_example_series_asks_about_the_feature_bit_once():
    proc = subprocess.run(
        [sys.executable, "-m", "patchbot", "lint", "--format", "json", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    asked = [
        f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "cc-without-feature-bit"
    ]
    # patches 1/3 and 2/3 both branch on cc_platform_has() in virtio_mem.c
    assert len(asked) == 1
    assert asked[0]["patch"]["label"] == "1/3"
    assert any(loc["note"] == "also in [PATCH 2/3]" for loc in asked[0]["related"])


def test_no_question_when_the_cover_letter_already_raises_it(tmp_path: Path):
    """The author asked it already: a reviewer answers, they do not ask it back."""
    text = EXAMPLE.read_text()
    marker = "v1 -> v2:\n"
    assert text.count(marker) == 1
    raised = text.replace(marker, "Should a device feature bit announce CoCo support?\n\n" + marker)
    findings = {}
    for name, body in (("plain", text), ("raised", raised)):
        (tmp_path / f"{name}.mbox").write_text(body)
        proc = subprocess.run(
            [sys.executable, "-m", "patchbot", "lint", "--format", "json", f"{name}.mbox"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr  # the example has other findings too
        findings[name] = [f["rule"] for f in json.loads(proc.stdout)["findings"]]
    assert "cc-without-feature-bit" in findings["plain"]
    assert "cc-without-feature-bit" not in findings["raised"]
    assert sorted(r for r in findings["plain"] if r != "cc-without-feature-bit") == sorted(
        findings["raised"]
    )
