"""Every rule's docstring follows the convention, and its examples tell the truth.

The ``Example`` fence must fire the rule and the ``Use instead`` fence must not (```c
fences are linted in --file mode, ```patch fences as a one-patch series).  docs/RULES.md
must equal what ``patchbot rules doc`` generates.
"""

from __future__ import annotations

import pytest
from conftest import REPO

from patchbot.engine import LintResult, load_rules
from patchbot.ruledoc import Fence, doc_problems, parse_doc, render_rules_markdown
from patchbot.testing import lint_c_text, lint_patch_file

RULES = load_rules()
IDS = [r.id for r in RULES]


def _lint_fence(fence: Fence, rule_id: str, tmp_path) -> LintResult:
    if fence.lang == "c":
        return lint_c_text(fence.body, [rule_id], path="example.c")
    patch = tmp_path / "example.patch"
    patch.write_text(fence.body)
    return lint_patch_file(patch, [rule_id])


def test_there_are_rules():
    assert len(RULES) >= 1, "rules/ holds no rule modules"


@pytest.mark.parametrize("rule_id", IDS)
def test_docstring_has_every_section(rule_id):
    (item,) = [r for r in RULES if r.id == rule_id]
    assert doc_problems(item.doc) == []


@pytest.mark.parametrize("rule_id", IDS)
def test_example_fires_and_use_instead_does_not(rule_id, tmp_path):
    (item,) = [r for r in RULES if r.id == rule_id]
    doc = parse_doc(item.doc)
    (bad,) = doc.fences("Example")
    (good,) = doc.fences("Use instead")
    bad_result = _lint_fence(bad, rule_id, tmp_path)
    assert not bad_result.errors, bad_result.errors
    assert any(f.rule == rule_id for f in bad_result.findings), "Example does not fire"
    good_result = _lint_fence(good, rule_id, tmp_path)
    assert not good_result.errors, good_result.errors
    fired = [f"{f.line}: {f.message}" for f in good_result.findings if f.rule == rule_id]
    assert fired == [], "Use instead fires"


def test_rules_md_is_up_to_date():
    current = (REPO / "docs" / "RULES.md").read_text()
    assert current == render_rules_markdown(RULES), (
        "docs/RULES.md is stale: run 'patchbot rules doc'"
    )


def test_parse_doc_sections_and_fences():
    doc = parse_doc(
        "One line.\n\nWhat it does\n------------\nStuff.\n\nExample\n-------\n"
        "```c\nint x;\n---\n```\n\nReferences\n----------\n- a\n"
    )
    assert doc.summary == "One line."
    assert doc.order == ["What it does", "Example", "References"]
    # a dashed line inside a fence is code, not a heading underline
    assert doc.fences("Example") == [Fence("c", "int x;\n---\n")]
    problems = doc_problems("One line.\n\nWhat it does\n------------\nStuff.\n")
    assert "missing section 'Why is this bad?'" in problems
    assert "section 'Example' needs exactly one fenced block, has 0" in problems
