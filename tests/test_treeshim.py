"""The shim that follows the tree (patchbot.model.treeshim) on both embedded trees.

Fixtures are our own kernel-style C (tests/fixtures/model/treeshim/); the real drivers
come from Debian's linux-source-6.1 and linux-source-6.12 at test time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import scratch_tree

from patchbot.kernel.tree import tree_for
from patchbot.model.build import BuildFailure, BuildResult
from patchbot.model.platforms import PLATFORMS
from patchbot.model.treeshim import build_following_tree, split_driver
from patchbot.validate.boot import boot

pytestmark = pytest.mark.kernel_tree

TREES = ("6.1", "6.12")
FIXTURES = Path(__file__).parent / "fixtures" / "model" / "treeshim"


@pytest.fixture(params=TREES)
def tree(request: pytest.FixtureRequest) -> Path:
    return tree_for(request.param)


def test_leading_include_block_ends_at_the_first_line_of_code():
    text = (
        "// x\n/*\n * c\n */\n#include <a.h>\n\n#include <b.h>\n#define X 1\n"
        "int y;\n#include <c.h>\n"
    )
    assert split_driver(text) == 7


def test_tree_api_the_shim_lacks_is_derived_from_the_tree(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHBOT_CACHE", str(tmp_path))  # cold: nothing derived yet
    driver = FIXTURES / "pm_aware.c"
    built = build_following_tree(driver, tree, "common", "drivers/fixture/pm_aware.c")
    assert isinstance(built.result, BuildResult), built.result
    assert built.needs_api == []
    assert built.headers == ["linux/suspend.h", "linux/notifier.h"]  # common/ has neither
    for name in ("PM_RESTORE_PREPARE", "INT_MAX", "notifier_block", "register_pm_notifier"):
        assert name in built.generated
    assert built.rounds > 1
    derived = next(tmp_path.glob("model-tree/*/common-*/include/pb_tree.h")).read_text()
    assert "#define PM_RESTORE_PREPARE" in derived  # the tree's own definition
    assert "struct notifier_block {" in derived

    again = build_following_tree(driver, tree, "common", "drivers/fixture/pm_aware.c")
    assert again.cached and again.rounds == 1
    assert isinstance(again.result, BuildResult) and again.result.cached


def test_memory_path_call_and_unknown_name_are_named_with_their_call_sites(tree):
    built = build_following_tree(
        FIXTURES / "needs_api.c", tree, "common", "drivers/fixture/needs_api.c"
    )
    assert isinstance(built.result, BuildFailure)
    needs = {n.name: n for n in built.needs_api}
    assert set(needs) == {"set_memory_np", "fixture_frobnicate_widget"}
    assert needs["set_memory_np"].lines == [12]
    assert "memory-path API (declared in asm/set_memory.h)" in needs["set_memory_np"].reason
    assert needs["fixture_frobnicate_widget"].lines == [17]
    assert "set_memory_np" not in built.generated  # never stubbed


def test_virtio_mem_on_tdx_reaches_the_buddy_unaccepted_on_both_trees(tree):
    report = boot("virtio-mem", tree, ("tdx",))
    assert report.matrix is not None, [f.message for f in report.findings]
    assert {f.rule for f in report.findings} == {"unaccepted-to-buddy"}
    # the lifecycle reaches it through the online-page callback; the explored resize up
    # into an online block (sbm:r10,r16) also through virtio_mem_fake_online()
    functions = {f.function for f in report.findings}
    assert "virtio_mem_online_page" in functions
    assert functions <= {"virtio_mem_online_page", "virtio_mem_fake_online"}


def test_virtio_mem_without_coco_and_the_heap_everywhere_are_clean(tree):
    virtio = boot("virtio-mem", tree, ("none",))
    assert virtio.matrix is not None and virtio.findings == []
    heap = boot("system-heap", tree, PLATFORMS)
    assert heap.matrix is not None and heap.findings == []
    assert len(heap.matrix.runs) > 200


def test_boot_cli_picks_the_tree_by_version(run_cli):
    code, out, err = run_cli(
        "boot", "--tree", "6.12", "--driver", "virtio-mem", "--platform", "tdx"
    )
    assert code == 1, err
    assert "unaccepted-to-buddy" in out and "generic_online_page()" in out


def test_attribute_stripping_keeps_names_that_only_start_like_one():
    from patchbot.model.treeshim import _clean

    text = "static inline size_t __must_check size_mul(size_t a) { __must_check_overflow(a); }"
    assert _clean(text) == "static inline size_t size_mul(size_t a) { __must_check_overflow(a); }"


def test_a_macro_chain_of_a_newer_tree_is_derived_and_ends_in_the_shims_allocator(
    tmp_path, monkeypatch
):
    tree = scratch_tree(
        tree_for("6.12"),
        tmp_path,
        {
            "fixture_obj.h": "#define __fixture_pick_gfp(a, b, ...) b\n"
            "#define fixture_gfp(...) __fixture_pick_gfp(, ##__VA_ARGS__, GFP_KERNEL)\n"
            "#define __fixture_alloc(ALLOC, GFP, TYPE) ((TYPE *)ALLOC(sizeof(TYPE), GFP))\n"
            "#define fixture_zalloc_obj(P, ...) \\\n"
            "\t__fixture_alloc(kzalloc, fixture_gfp(__VA_ARGS__), typeof(P))\n"
            "#define FIXTURE_BUDGET (INT_MAX / 2)\n",
        },
    )
    monkeypatch.setenv("PATCHBOT_CACHE", str(tmp_path / "cache"))
    built = build_following_tree(
        FIXTURES / "obj_alloc.c", tree, "common", "drivers/fixture/obj_alloc.c"
    )
    assert isinstance(built.result, BuildResult), built.needs_api or built.result
    for name in ("fixture_zalloc_obj", "__fixture_alloc", "fixture_gfp", "INT_MAX"):
        assert name in built.generated
    assert "kzalloc" not in built.generated  # the shim's allocator, with its fault point


def test_a_shim_function_called_with_another_signature_is_model_needs_api(tree):
    built = build_following_tree(
        FIXTURES / "new_signature.c", tree, "system_heap", "drivers/fixture/new_signature.c"
    )
    assert [(n.name, n.lines) for n in built.needs_api] == [("alloc_pages", [12])]
    assert "another signature" in built.needs_api[0].reason
