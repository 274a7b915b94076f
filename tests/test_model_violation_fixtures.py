"""Issue 19's own fixtures for the violations a fault reaches: a MEM_CANCEL_ONLINE undo
whose failure is ignored, and a retry that is right after a whole failure but not after a
partial conversion.  Each real, patched 6.1 virtio_mem.c gives exactly its violation, and
only through the feature: the faults that reach it, the exploration that follows them.
(The stale DMA mapping fixture is tests/fixtures/model/system_heap/cc-shared-share-on-mmap.)
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from patchbot.model.bridge import Fault
from patchbot.model.runner import RunResult
from patchbot.model.state import PLATFORMS, Mem, Owner, PageModel, ViolationError
from patchbot.model.virtio_mem import explore
from patchbot.validate.boot import BootReport, boot

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "virtio_mem"
SRC = "drivers/virtio/virtio_mem.c"
CONVERSIONS = {"conversion", "partial-conversion"}

# variant -> the one violation its mistake gives on tdx and snp
EXPECTED = {
    "cancel-undo-unchecked": "cancel-undo-failure-ignored",
    "retry-accept": "double-accept",
}


class Booted:
    """A fixture variant applied to the 6.1 file and booted on every platform."""

    def __init__(self, kernel_tree: Path, work: Path, variant: str):
        pristine = (kernel_tree / SRC).read_text()
        dest = work / SRC
        dest.parent.mkdir(parents=True)
        dest.write_text(pristine)
        patch = (FIXTURES / f"{variant}.patch").read_text()
        subprocess.run(
            ["patch", "-p1", "--batch", "-s", "-d", str(work)], input=patch, text=True, check=True
        )
        self.lines = dest.read_text().splitlines()
        self.added = _added_lines(pristine.splitlines(), self.lines)
        self.report: BootReport = boot("virtio-mem", kernel_tree, driver_file=dest)
        assert self.report.matrix is not None
        self.runs: list[RunResult] = self.report.matrix.runs

    def text(self, line: int) -> str:
        return self.lines[line - 1].strip()


def _added_lines(old: list[str], new: list[str]) -> set[int]:
    """1-based numbers of the patched file's lines the fixture added (not the tree's)."""
    added: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("insert", "replace"):
            added.update(range(j1 + 1, j2 + 1))
    return added


@pytest.fixture(scope="module")
def booted(kernel_tree, tmp_path_factory) -> Callable[[str], Booted]:
    """Boot each variant once for the tests of this module (a matrix takes ~10 s)."""
    cache: dict[str, Booted] = {}

    def get(variant: str) -> Booted:
        if variant not in cache:
            cache[variant] = Booted(kernel_tree, tmp_path_factory.mktemp(variant), variant)
        return cache[variant]

    return get


def _kinds(fault: Fault | None) -> set[str]:
    kinds: set[str] = set()
    while fault is not None:
        kinds.add(fault.kind)
        fault = fault.then
    return kinds


def _names(runs: list[RunResult]) -> dict[str, set[str]]:
    by_platform: dict[str, set[str]] = {}
    for run in runs:
        for v in run.violations:  # every violation of a run, not only its first
            by_platform.setdefault(run.platform, set()).add(v.name)
    return by_platform


# -- each fixture gives exactly its violation ------------------------------------------------
@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_each_fixture_gives_exactly_its_violation(booted, variant):
    fx = booted(variant)
    expected = EXPECTED[variant]
    assert _names(fx.runs) == {"tdx": {expected}, "snp": {expected}}
    (finding,) = fx.report.findings
    assert finding.rule == expected
    assert set(finding.platform.split(",")) == {"tdx", "snp"}
    assert finding.path == SRC and finding.function
    assert finding.fault != "none"  # a fault is what reaches it
    # the trace goes down to the driver's lines and shows the injected failure at a
    # line the fixture wrote
    assert finding.trace and finding.trace[-1].path == SRC
    failed = [loc for loc in finding.trace if "fails (injected)" in loc.note]
    assert failed and all(loc.path == SRC and loc.line in fx.added for loc in failed)


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_retry_accept_double_accepts_at_its_retry(booted):
    fx = booted("retry-accept")
    (finding,) = fx.report.findings
    # the finding is the fixture's own retry, the call after the one that failed
    assert finding.line in fx.added
    assert fx.text(finding.line) == "return set_memory_encrypted(vaddr, nr_pages);"
    assert "if (private && set_memory_encrypted(vaddr, nr_pages))" in fx.text(finding.line - 1)
    first, retry = finding.trace[-2:]
    assert "fails (injected)" not in retry.note and "fails (injected)" in first.note
    assert "converts half of its range" in first.note


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_cancel_undo_unchecked_unplugs_the_block_whose_undo_failed(booted):
    fx = booted("cancel-undo-unchecked")
    (finding,) = fx.report.findings
    notes = [loc.note for loc in finding.trace]
    cancel = notes.index("memory_notify (MEM_CANCEL_ONLINE)")
    undo = finding.trace[cancel + 1 :]
    # the undo the fixture wrote fails inside MEM_CANCEL_ONLINE ...
    failed = next(loc for loc in undo if "fails (injected)" in loc.note)
    assert failed.note.startswith("set_memory_decrypted")
    assert fx.text(failed.line) == "return set_memory_decrypted(vaddr, nr_pages);"
    # ... the notifier returns, and a later step hands the block back to the host
    assert "memory_notify_done (MEM_CANCEL_ONLINE returned)" in notes[cancel:]
    assert finding.trace[-1].note.startswith("virtio_mem_request (UNPLUG")
    assert "cancel1," in finding.message  # a step after the cancel: the exploration's


# -- failing without the feature -----------------------------------------------------------
@pytest.mark.kernel_tree
@pytest.mark.slow
def test_retry_accept_is_clean_without_partial_conversions(booted):
    fx = booted("retry-accept")
    failing = [r for r in fx.runs if r.violations]
    assert failing and all("partial-conversion" in _kinds(r.fault) for r in failing)
    # the matrix without the partial-conversion faults: every clean run and every whole
    # failure of a conversion, single and paired, on the same sequences
    whole = [r for r in fx.runs if "partial-conversion" not in _kinds(r.fault)]
    assert {r.scenario for r in failing} <= {r.scenario for r in whole if r.fault}
    assert sum(1 for r in whole if "conversion" in _kinds(r.fault)) > 100
    assert not [r for r in whole if r.violations]


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_cancel_undo_unchecked_is_clean_without_conversion_faults(booted):
    fx = booted("cancel-undo-unchecked")
    failing = [r for r in fx.runs if r.violations]
    assert failing
    # a whole or a partial failure of the undo, alone or paired, and nothing else
    assert {k for r in failing for k in _kinds(r.fault)} == CONVERSIONS
    assert any(r.fault is not None and r.fault.then is None for r in failing)
    without = [r for r in fx.runs if not _kinds(r.fault) & CONVERSIONS]
    assert {k for r in without for k in _kinds(r.fault)} >= {"allocation", "request", "hotplug"}
    assert not [r for r in without if r.violations]
    # every failing run cancels an online, then takes one more step: the runs that a
    # fault on the cancel's calls gets only because the step after a cancel is explored
    # with them failed (explore.fault_base)
    for r in failing:
        mode, steps = explore.parse(r.scenario)
        assert any(s.startswith("cancel") for s in steps[:-1]), r.scenario
        assert explore.fault_base(r.scenario) == f"{mode}:{','.join(steps[:1])}"


# -- the model parts the fixtures rely on (no build) -------------------------------------------
def test_a_step_after_a_cancel_also_fails_the_cancels_calls():
    assert explore.fault_base("sbm:r10,cancel1,r0") == "sbm:r10"
    assert explore.fault_base("bbm:r10,cancel1,on1") == "bbm:r10"
    assert explore.fault_base("sbm:r10,cancel1") == "sbm:r10"
    assert explore.fault_base("sbm:r10,r0,cancel1") == "sbm:r10,r0"
    assert explore.fault_base("sbm:r10,off1,r0") == "sbm:r10,off1"  # offlining: no change


BASE = 0x1000


@pytest.mark.parametrize(("partial", "state"), [(False, "unknown"), (True, "private")])
def test_unplugging_what_a_failed_cancel_undo_left_is_that_failure(partial, state):
    model = PageModel(PLATFORMS["tdx"])
    model.add_region(BASE, 4, backed=True, mem=Mem.UNACCEPTED, owner=Owner.OFFLINE)
    model.convert(BASE, 4, True, False, "set_memory_encrypted")  # MEM_GOING_ONLINE
    op = model.begin_operation()  # MEM_CANCEL_ONLINE: the undo fails
    model.convert(BASE, 4, False, True, "set_memory_decrypted", partial=partial)
    model.note_failed_undo(BASE, 4, op)
    model.begin_operation()  # a later resize unplugs the offline block as it is
    # a partial failure shared the first half: the second is still private, and the
    # driver cannot tell the halves apart any more than after a whole failure
    with pytest.raises(ViolationError) as exc:
        model.host_unplug(BASE + 3, 1)
    assert exc.value.violation.name == "cancel-undo-failure-ignored"
    assert f"its state is {state}" in exc.value.violation.message
