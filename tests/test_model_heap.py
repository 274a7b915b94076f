"""The system-heap model on the real drivers/dma-buf/heaps/system_heap.c (6.1 tree).

The driver is compiled unmodified (or patched by a fixture series with `patch -p1`)
against the heap shim with gcc, and booted through every heap-user scenario on none,
tdx and snp, clean and with each single fault injected.
"""

from __future__ import annotations

import ctypes
import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from patchbot.model.bridge import Session
from patchbot.model.build import BuildResult, build_driver
from patchbot.model.heap.harness import HARNESS
from patchbot.model.heap.scenarios import LARGE, configure
from patchbot.model.runner import run_one
from patchbot.model.state import PLATFORMS as PLATFORMS_BY_NAME
from patchbot.model.state import PageModel
from patchbot.validate.boot import PLATFORMS, boot

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "model" / "system_heap"
SERIES = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
SOURCE = HARNESS.source

pytestmark = [pytest.mark.kernel_tree, pytest.mark.slow]


def finding_keys(report) -> set[str]:
    return {f"{f.rule} {f.path}:{f.line}" for f in report.findings}


def expected_keys(series: Path) -> set[str]:
    return {ln.strip() for ln in (series / "expected").read_text().splitlines() if ln.strip()}


def apply_with_patch(series: Path, kernel_tree: Path, scratch: Path) -> Path:
    """Apply a fixture series to a scratch copy of the driver with patch -p1, in order."""
    dest = scratch / SOURCE
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(kernel_tree / SOURCE, dest)
    for mail in sorted(series.glob("*.patch")):
        proc = subprocess.run(
            ["patch", "-p1", "--batch", "--forward", "-d", str(scratch), "-i", str(mail)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, f"{mail.name} does not apply: {proc.stdout}{proc.stderr}"
    return dest


def patched_copy(kernel_tree: Path, tmp_path: Path, old: str, new: str) -> Path:
    """The real driver with one edit, as a scratch file (the tree is never modified)."""
    text = (kernel_tree / SOURCE).read_text()
    assert text.count(old) == 1, f"edit anchor not found once in {SOURCE}: {old!r}"
    dest = tmp_path / SOURCE
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text.replace(old, new))
    return dest


@pytest.fixture(scope="module")
def booted(kernel_tree, tmp_path_factory):
    """Boot a fixture series once per module: each is a full matrix of runs."""
    reports = {}

    def _boot(name: str):
        if name not in reports:
            driver = apply_with_patch(FIXTURES / name, kernel_tree, tmp_path_factory.mktemp(name))
            reports[name] = boot("system-heap", kernel_tree, PLATFORMS, driver)
        return reports[name]

    return _boot


def test_unmodified_heap_is_clean_on_every_profile_and_single_fault(kernel_tree):
    report = boot("system-heap", kernel_tree, PLATFORMS)
    assert report.build_failure is None
    assert report.findings == [], [f.message for f in report.findings]
    assert report.matrix is not None
    runs = report.matrix.runs
    assert {r.platform for r in runs} == set(PLATFORMS)
    assert {r.scenario for r in runs} == set(HARNESS.scenarios())
    faults = {r.fault.kind for r in runs if r.fault}
    assert {"allocation", "user-map", "dma-map"} <= faults
    # without the CoCo heap, the 6.1 driver never converts memory
    assert all(r.counts.get("conversion", 0) == 0 for r in runs if r.fault is None)


@pytest.mark.parametrize("series", SERIES, ids=lambda p: p.name)
def test_cc_shared_series_gives_exactly_its_expected_violations(series, booted):
    report = booted(series.name)
    assert report.build_failure is None, report.build_failure
    assert finding_keys(report) == expected_keys(series)
    violating = {r.platform for r in report.matrix.violations}
    # the shared heap exists only with memory encryption, so 'none' stays clean
    assert violating <= {"tdx", "snp"}
    if expected_keys(series):
        assert violating == {"tdx", "snp"}
        assert all(f.trace for f in report.findings)


def test_cc_shared_heap_converts_only_on_coco_profiles(booted):
    report = booted("cc-shared")
    clean = [r for r in report.matrix.runs if r.fault is None]
    conversions = {
        platform: sum(r.counts.get("conversion", 0) for r in clean if r.platform == platform)
        for platform in PLATFORMS
    }
    assert conversions["none"] == 0
    assert conversions["tdx"] > 0 and conversions["snp"] > 0
    # every conversion call fails once in turn on tdx and snp
    assert any(r.fault and r.fault.kind == "conversion" for r in report.matrix.runs)


def test_memory_path_call_the_shim_lacks_is_model_needs_api_at_its_call_site(kernel_tree, tmp_path):
    """dma_resv_init() is dma-buf API (linux/dma-resv.h): never stubbed, named with its line."""
    driver = patched_copy(
        kernel_tree,
        tmp_path,
        "\tbuffer->len = len;\n",
        "\tbuffer->len = len;\n\tdma_resv_init(NULL);\n",
    )
    line = driver.read_text().splitlines().index("\tdma_resv_init(NULL);") + 1
    report = boot("system-heap", kernel_tree, PLATFORMS, driver)
    assert report.matrix is None
    assert [f.rule for f in report.findings] == ["model-needs-api"]
    finding = report.findings[0]
    assert finding.line == line
    assert f"dma_resv_init (drivers/dma-buf/heaps/system_heap.c:{line})" in finding.message
    assert "linux/dma-resv.h" in finding.message


def test_driver_that_never_returns_is_a_hang_with_its_last_events(kernel_tree, tmp_path):
    driver = patched_copy(
        kernel_tree,
        tmp_path,
        '\texp_info.name = "system";\n',
        '\tfor (;;)\n\t\tkfree(kzalloc(8, GFP_KERNEL));\n\texp_info.name = "system";\n',
    )
    built = build_driver(driver, kernel_tree, HARNESS.shim, SOURCE)
    assert isinstance(built, BuildResult), built
    result = run_one(HARNESS, built.so_path, "tdx", "alloc-release", time_limit=1.0)
    assert result.violation is not None and result.violation.name == "hang"
    assert result.violation.trace[-1].func == "system_heap_create"


def test_validate_cli_reports_the_violation_and_exits_1(run_cli, kernel_tree):
    series = FIXTURES / "cc-shared-no-mmap-decrypt"
    code, out, _ = run_cli("validate", "--tree", "6.1", str(series), "--platform", "snp")
    assert code == 1
    assert "shared-read-through-encrypted-mapping" in out
    assert f"{SOURCE}:{expected_keys(series).pop().rsplit(':', 1)[1]}" in out


def test_tree_without_the_heap_is_an_input_error(run_cli, tmp_path):
    (tmp_path / "include" / "uapi").mkdir(parents=True)
    code, _, err = run_cli("boot", "--driver", "system-heap", "--tree", str(tmp_path))
    assert code == 2
    assert "system_heap.c" in err and len(err.strip().splitlines()) == 1


def test_series_that_does_not_apply_is_an_input_error(run_cli, kernel_tree, tmp_path):
    text = (kernel_tree / SOURCE).read_text().splitlines(keepends=True)
    edited = [ln.replace("orders[] = {8, 4, 0}", "orders[] = {9, 4, 0}") for ln in text]
    # a diff made against a file that is not the tree's: its context does not match
    wrong_base = [ln.replace("LOW_ORDER_GFP (", "LOW_ORDER_GFP  (") for ln in text]
    diff = difflib.unified_diff(wrong_base, edited, f"a/{SOURCE}", f"b/{SOURCE}", n=3)
    patch = tmp_path / "bad.patch"
    patch.write_text("".join(diff))
    code, _, err = run_cli("validate", "--tree", "6.1", str(patch))
    assert code == 2
    assert "does not apply" in err


def test_fixture_series_never_touch_the_cached_tree(kernel_tree):
    assert shutil.which("patch"), "patch(1) is required to apply series"
    text = (kernel_tree / SOURCE).read_text()
    assert "cc_shared" not in text


def test_events_carry_real_driver_lines_and_mmap_windows_map_the_right_pages(kernel_tree, tmp_path):
    """Drive a private copy of the built driver in-process and read its events."""
    built = build_driver(kernel_tree / SOURCE, kernel_tree, HARNESS.shim, SOURCE)
    assert isinstance(built, BuildResult), built
    private_so = tmp_path / "heap-private.so"  # its own static state, not the runner's
    shutil.copy(built.so_path, private_so)
    lib = ctypes.CDLL(str(private_so))
    model = PageModel(PLATFORMS_BY_NAME["tdx"])
    session = Session(model, {}, HARNESS.fault_kinds)
    session.handlers = HARNESS.setup(model)
    session.attach(lib)
    configure(lib)
    assert lib.pbu_boot() == 0
    buf = lib.pbu_alloc(0, LARGE)
    assert buf >= 0
    assert lib.pbu_mmap(buf, 254, 4) >= 0  # the last two pages of the 1 MiB chunk + two more

    allocs = [ev for ev in session.events if ev.api == "alloc_pages"]
    assert [ev.args[0] for ev in allocs] == [8, 4, 0, 0]  # orders, largest first
    chunks = [ev.result for ev in allocs]
    remaps = [ev.args[1] for ev in session.events if ev.api == "remap_pfn_range"]
    assert remaps == [chunks[0] + 254, chunks[0] + 255, chunks[1], chunks[1] + 1]

    source = (kernel_tree / SOURCE).read_text().splitlines()
    for ev in (allocs[0], next(e for e in session.events if e.api == "remap_pfn_range")):
        call = ev.api + "("
        assert call in source[ev.line - 1], f"{ev.func}:{ev.line} is not a {call} line"
    assert allocs[0].func == "alloc_largest_available"


@pytest.mark.parametrize(
    ("series", "expected"),
    [("cc-shared", None), ("cc-shared-no-mmap-decrypt", "shared-read-through-encrypted-mapping")],
)
def test_vm_insert_page_uses_the_vma_protection(series, expected, kernel_tree, tmp_path):
    """The same heap with mmap built on vm_insert_page() instead of remap_pfn_range()."""
    driver = apply_with_patch(FIXTURES / series, kernel_tree, tmp_path)
    text = driver.read_text()
    remap = (
        "remap_pfn_range(vma, addr, page_to_pfn(page), PAGE_SIZE,\n"
        "\t\t\t\t      vma->vm_page_prot);"
    )
    assert text.count(remap) == 1
    driver.write_text(text.replace(remap, "vm_insert_page(vma, addr, page);"))
    built = build_driver(driver, kernel_tree, HARNESS.shim, SOURCE)
    assert isinstance(built, BuildResult), built
    result = run_one(HARNESS, built.so_path, "tdx", "mmap-access")
    assert result.counts.get("user-map", 0) > 0
    assert (result.violation.name if result.violation else None) == expected
