"""Annotated fixtures and documentation blocks for the second half of the CoCo rules.

Each fixture under tests/fixtures/coco_b/ marks the line after ``/* ruleid: X */`` as a
required finding and the line after ``/* ok: X */`` as a required silence; any other
finding of X is a false positive (patchbot.testing.check_annotated_c).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

from patchbot.testing import check_annotated_c, check_expected_patch, lint_c_text

COCO_B = FIXTURES / "coco_b"

RULE_IDS = [
    "dma-shared-without-attr",
    "conversion-outside-guard",
    "convert-unplugged-range",
    "cancel-without-undo",
    "double-conversion",
    "rollback-overreach",
    "conversion-ordering",
]

FIXTURE_RULES = {
    "dma_shared_without_attr.c": ["dma-shared-without-attr"],
    "dma_private_only.c": ["dma-shared-without-attr"],
    "conversion_outside_guard.c": ["conversion-outside-guard"],
    "cc_heap_registration.c": ["conversion-outside-guard"],
    "convert_unplugged_range.c": ["convert-unplugged-range"],
    "cancel_without_undo.c": ["cancel-without-undo"],
    "double_conversion.c": ["double-conversion"],
    "rollback_overreach.c": ["rollback-overreach"],
    "conversion_ordering.c": ["conversion-ordering"],
}


@pytest.mark.parametrize("name", sorted(FIXTURE_RULES))
def test_annotated_fixture(name: str) -> None:
    path = COCO_B / name
    text = path.read_text()
    rules = FIXTURE_RULES[name]
    # a fixture that marks nothing would pass vacuously
    assert re.search(r"/\*\s*ruleid:|/\*\s*ok:", text), f"{name} has no annotations"
    check_annotated_c(path, rules)


def test_every_rule_has_a_firing_fixture() -> None:
    firing = {
        rule
        for name, rules in FIXTURE_RULES.items()
        for rule in rules
        if f"ruleid: {rule}" in (COCO_B / name).read_text()
    }
    assert firing == set(RULE_IDS)


def _doc_block(rule_id: str, section: str) -> str:
    module = REPO / "rules" / (rule_id.replace("-", "_") + ".py")
    doc = module.read_text().split('"""')[1]
    part = doc.split(f"\n{section}\n")[1]
    match = re.search(r"```c\n(.*?)```", part, re.S)
    assert match, f"{rule_id}: no ```c block under {section}"
    return match.group(1)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_doc_example_fires_and_fix_is_clean(rule_id: str) -> None:
    bad = lint_c_text(_doc_block(rule_id, "Example"), [rule_id], "example.c")
    good = lint_c_text(_doc_block(rule_id, "Use instead"), [rule_id], "use_instead.c")
    assert not bad.errors and not good.errors, bad.errors + good.errors
    assert any(f.rule == rule_id for f in bad.findings), f"{rule_id}: Example is silent"
    assert not [f for f in good.findings if f.rule == rule_id], [f.message for f in good.findings]


def test_messages_name_the_function() -> None:
    result = lint_c_text((COCO_B / "rollback_overreach.c").read_text(), ["rollback-overreach"])
    messages = [f.message for f in result.findings]
    assert any("share_array_overreach()" in m for m in messages), messages
    assert all(f.function for f in result.findings)


@pytest.mark.kernel_tree
def test_real_set_memory_c_has_no_ordering_finding(kernel_tree: Path) -> None:
    """The 6.1 implementation is the reference order: the rule must accept it."""
    path = kernel_tree / "arch/x86/mm/pat/set_memory.c"
    result = lint_c_text(path.read_text(), ["conversion-ordering"], "set_memory.c")
    assert not result.errors, result.errors
    assert result.findings == []


PATCH_RULES = list(RULE_IDS)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (COCO_B / "patches").glob("*.patch")), ids=str
)
def test_patch_fixture(name: str) -> None:
    """Patch mode: only what the patch introduces, and only what the hunks can prove."""
    check_expected_patch(COCO_B / "patches" / name, PATCH_RULES)
