"""Shapes of 2026 drivers the tree-following shim must cope with (issue 17, by hand).

Running the real 2026 ``virtio_mem.c`` and ``system_heap.c`` (linux-mm/linux-mm) in a
scratch copy of Debian's 6.12 tree showed where the model stopped with a false
``model-needs-api`` or a stale answer; each test here is that shape in our own
kernel-style C (tests/fixtures/model/treeshim/), on a scratch tree made of 6.12's headers
plus a few definitions of our own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import scratch_tree

from patchbot.kernel.tree import tree_for
from patchbot.model.build import BuildFailure, BuildResult
from patchbot.model.treeshim import build_following_tree

pytestmark = pytest.mark.kernel_tree

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "treeshim"

# our own additions to a memory-path header (gfp.h), in the shape 2026 gave gfp.h
GFP_ADDITIONS = """
typedef unsigned int __bitwise fixture_range_flags_t;
#define FIXTURE_RANGE_NONE ((__force fixture_range_flags_t)0)
#define FIXTURE_RANGE_PINNED ((__force fixture_range_flags_t)BIT(1))
#define __fixture_gfp_or_default(a, b, ...) b
#define fixture_gfp_default(...) __fixture_gfp_or_default(, ##__VA_ARGS__, GFP_KERNEL)
int fixture_grab_range_noprof(unsigned long start, unsigned long end,
\t\tfixture_range_flags_t flags, gfp_t gfp_mask);
#define fixture_grab_range(...) alloc_hooks(fixture_grab_range_noprof(__VA_ARGS__))
"""


@pytest.fixture
def base() -> Path:
    return tree_for("6.12")  # from the shared cache, before cold_cache points it elsewhere


@pytest.fixture
def cold_cache(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # nothing derived or built yet; the 6.12 tree stays where it is (not re-extracted)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PATCHBOT_CACHE", str(cache))
    return cache


def test_flag_types_constants_and_pure_macros_of_a_memory_path_header_are_derived(
    base, tmp_path, cold_cache
):
    tree = scratch_tree(base, tmp_path, {"gfp.h": GFP_ADDITIONS})
    built = build_following_tree(
        FIXTURES / "flag_constant.c", tree, "common", "drivers/fixture/flag_constant.c"
    )
    assert isinstance(built.result, BuildResult), [n.message("x") for n in built.needs_api]
    assert built.needs_api == []
    for name in (
        "fixture_range_flags_t",
        "FIXTURE_RANGE_NONE",
        "FIXTURE_RANGE_PINNED",
        "fixture_gfp_default",
        "__fixture_gfp_or_default",
    ):
        assert name in built.generated
    assert "kzalloc" not in built.generated  # the allocation keeps the shim's semantics


def test_a_memory_path_macro_that_ends_in_a_function_is_still_model_needs_api(
    base, tmp_path, cold_cache
):
    tree = scratch_tree(base, tmp_path, {"gfp.h": GFP_ADDITIONS})
    built = build_following_tree(
        FIXTURES / "range_call.c", tree, "common", "drivers/fixture/range_call.c"
    )
    assert isinstance(built.result, BuildFailure)
    needs = {n.name: n for n in built.needs_api}
    assert "fixture_grab_range" in needs, sorted(needs)
    assert needs["fixture_grab_range"].lines == [12]
    assert "memory-path API (declared in linux/gfp.h)" in needs["fixture_grab_range"].reason
    assert "fixture_grab_range" not in built.generated
    assert "fixture_grab_range_noprof" not in built.generated  # never a stub


def test_a_header_added_to_the_tree_after_a_run_is_seen_by_the_next_run(base, tmp_path, cold_cache):
    tree = scratch_tree(base, tmp_path, {})
    driver = FIXTURES / "late_header.c"
    first = build_following_tree(driver, tree, "common", "drivers/fixture/late_header.c")
    assert [n.name for n in first.needs_api] == ["FIXTURE_LATE_LIMIT"]

    header = tree / "include" / "linux" / "fixture_late.h"
    header.write_text("#define FIXTURE_LATE_LIMIT 4096\n")
    second = build_following_tree(driver, tree, "common", "drivers/fixture/late_header.c")
    assert isinstance(second.result, BuildResult), [n.message("x") for n in second.needs_api]
    assert "FIXTURE_LATE_LIMIT" in second.generated

    # an edit in place (same name, new content) is seen too, not only a new file
    header.write_text("#define FIXTURE_LATE_LIMIT_OLD 1\n")
    os.utime(header, ns=(1, 1))
    third = build_following_tree(driver, tree, "common", "drivers/fixture/late_header.c")
    assert [n.name for n in third.needs_api] == ["FIXTURE_LATE_LIMIT"]


def test_init_page_count_has_the_shims_refcount_semantics(base, cold_cache):
    built = build_following_tree(
        FIXTURES / "page_count.c", base, "common", "drivers/fixture/page_count.c"
    )
    assert isinstance(built.result, BuildResult), [n.message("x") for n in built.needs_api]
    assert "init_page_count" not in built.generated  # hand-written, not derived or stubbed


def test_hot_added_pages_start_page_offline_so_the_drivers_vm_warn_stays_quiet():
    # 6.12 and 2026 initialise a hot-added memmap PageOffline() and virtio_mem checks it
    # with VM_WARN_ON_ONCE() on every page it keeps fake-offline; a model core that left
    # the flag clear fired that warning 19 times in the traces of the tdx findings
    from patchbot.validate.boot import boot

    report = boot("virtio-mem", tree_for("6.12"), ("tdx",))
    assert report.matrix is not None, [f.message for f in report.findings]
    assert {f.rule for f in report.findings} == {"unaccepted-to-buddy"}
    notes = [step.note for f in report.findings for step in f.trace]
    assert notes and "WARN_ON" not in notes


def test_a_memory_path_call_inside_a_derived_macro_is_named_at_the_drivers_line(
    base, tmp_path, cold_cache
):
    # gcc places an error on a token of a macro body at the macro's own line (here in
    # the generated pb_tree.h); its "in expansion of macro" notes name the driver's line
    tree = scratch_tree(
        base,
        tmp_path,
        {"fixture_wrap.h": "#define fixture_hide_page(p) set_memory_np((unsigned long)(p), 1)\n"},
    )
    built = build_following_tree(
        FIXTURES / "wrapped_call.c", tree, "common", "drivers/fixture/wrapped_call.c"
    )
    assert isinstance(built.result, BuildFailure)
    needs = {n.name: n for n in built.needs_api}
    assert set(needs) == {"set_memory_np"}
    assert needs["set_memory_np"].lines == [12]
    assert "fixture_hide_page" in built.generated and "set_memory_np" not in built.generated
