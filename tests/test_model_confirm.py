"""Issue 19 end to end: the bundled RFC on tdx, lint's CoCo path findings confirmed by
model runs, and what `patchbot validate` prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbot.validate.apply import read_series
from patchbot.validate.boot import boot_series
from patchbot.validate.confirm import confirm, lint_path_findings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "virtio-mem-coco-rfc.mbox"

pytestmark = [pytest.mark.kernel_tree, pytest.mark.slow]


@pytest.fixture(scope="module")
def rfc_on_tdx(kernel_tree):
    series = read_series([str(EXAMPLE)])
    _, reports = boot_series(series, kernel_tree, ("tdx",))
    return series, reports


def test_the_rfc_shows_every_distinct_violation(rfc_on_tdx):
    _, (report,) = rfc_on_tdx
    rules = {f.rule for f in report.findings}
    # the double accept (offline -> re-online accepts private memory again) is still
    # there, and the runs that go on past it reach the leaks, the unplug of unknown
    # memory and the cancel undo whose failure is ignored
    assert {
        "double-accept",
        "free-after-failed-conversion",
        "unplug-after-failed-conversion",
        "cancel-undo-failure-ignored",
    } <= rules
    # each reported once, on a run whose steps and fault are named
    keys = [(f.rule, f.line) for f in report.findings]
    assert len(keys) == len(set(keys))
    double = next(f for f in report.findings if f.rule == "double-accept")
    assert double.message.startswith("[sbm:r10,cancel1]") and double.fault == "none"
    assert double.trace and double.trace[-1].path == "drivers/virtio/virtio_mem.c"


def test_every_leak_on_failure_error_of_lint_is_reproduced(rfc_on_tdx, kernel_tree):
    series, reports = rfc_on_tdx
    lint = lint_path_findings(series, kernel_tree)
    leaks = [f for f in lint if f.rule == "leak-on-failure"]
    assert len(leaks) >= 3
    confirmed = {(c.lint.rule, c.lint.line): c for c in confirm(lint, reports)}
    for f in leaks:
        c = confirmed[f.rule, f.line]
        assert c.model is not None, c.describe()
        assert c.model.fault != "none" and "reproduced by the model: steps" in c.describe()


def test_validate_prints_the_confirmations(run_cli, kernel_tree):
    code, _, err = run_cli("validate", "--tree", "6.1", str(EXAMPLE), "--platform", "tdx")
    assert code == 1
    assert "lint confirmed by running:" in err
    assert "[leak-on-failure] reproduced by the model: steps" in err


def test_a_lint_finding_the_model_does_not_show_is_listed_with_the_reason(run_cli):
    series = Path(__file__).parent / "fixtures" / "model" / "system_heap" / "cc-shared"
    code, _, err = run_cli("validate", "--tree", "6.1", str(series), "--platform", "tdx")
    assert code == 0
    # lint's path rules flag the allocation error path; no run of the model leaks there
    assert "not reproduced: no explored sequence x fault showed" in err
