"""Tests for the pattern rules that encode the virtio-mem CoCo RFC review.

Annotated C fixtures run through the real engine in --file mode; patch fixtures run
through the real mbox loader and compare with their .expected sidecars.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patchbot.engine import load_rules
from patchbot.testing import check_annotated_c, check_expected_patch, lint_c_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"

RULE_FIXTURES = FIXTURES / "rules"

C_RULES = [
    "duplicated-logic",
    "repeated-expression",
    "restating-comment",
    "terminology-mismatch",
    "cc-without-feature-bit",
]
COMMIT_RULES = [
    "missing-signoff",
    "malformed-assisted-by",
    "malformed-fixes-tag",
    "changelog-above-cut",
    "inconsistent-series-prefix",
]


def _c_fixtures() -> list[tuple[str, Path]]:
    cases: list[tuple[str, Path]] = []
    for rule_id in C_RULES:
        files = sorted((RULE_FIXTURES / rule_id).glob("*.c"))
        assert files, f"no C fixtures for {rule_id}"
        cases.extend((rule_id, f) for f in files)
    return cases


@pytest.mark.parametrize(("rule_id", "fixture"), _c_fixtures(), ids=lambda v: str(v))
def test_annotated_c_fixture(rule_id: str, fixture: Path) -> None:
    result = check_annotated_c(fixture, [rule_id])
    # every fixture marks at least one line, so a rule that never fires fails here
    marked = re.findall(rf"/\* (?:ruleid|ok): {rule_id} \*/", fixture.read_text())
    assert marked
    assert all(f.rule == rule_id for f in result.findings)


PATCH_FIXTURES = sorted(p for p in RULE_FIXTURES.rglob("*") if p.suffix in (".patch", ".mbox"))


@pytest.mark.parametrize("fixture", PATCH_FIXTURES, ids=lambda p: p.name)
def test_patch_fixture(fixture: Path) -> None:
    # a fixture directory is named after its rule; commit/ holds the commit-message rules
    rule_ids = COMMIT_RULES if fixture.parent.name == "commit" else [fixture.parent.name]
    check_expected_patch(fixture, rule_ids)


def test_cross_patch_duplicate_points_at_both_copies() -> None:
    result = check_expected_patch(RULE_FIXTURES / "duplicated-logic" / "cross-patch.mbox")
    (finding,) = result.findings
    assert finding.patch == "2/2"
    assert "reverse of the one in demo_mem_share_block()" in finding.message
    assert "drivers/demo/demo_mem.c:9" in finding.message
    assert [(r.line, r.function) for r in finding.related] == [
        (9, "demo_mem_share_block"),
        (25, "demo_mem_going_online"),
    ]
    assert finding.suggestion


def test_series_prefix_findings_name_the_patch() -> None:
    result = check_expected_patch(
        RULE_FIXTURES / "commit" / "mixed-prefixes.mbox", ["inconsistent-series-prefix"]
    )
    by_patch = sorted((f.patch, f.message) for f in result.findings)
    assert [p for p, _ in by_patch] == ["1/4", "4/4", "4/4"]
    assert "3/4 is missing" in by_patch[0][1]
    assert any("carries RFC" in m for _, m in by_patch)
    assert any("no subsystem prefix" in m for _, m in by_patch)


def test_repeated_expression_reports_the_largest_expression_once() -> None:
    text = (RULE_FIXTURES / "repeated-expression" / "addresses.c").read_text()
    result = lint_c_text(text, ["repeated-expression"])
    messages = [f.message for f in result.findings]
    assert len(messages) == 2
    assert messages[0].startswith("'demo_block_addr(blk)+chunk*dm->chunk_size' is computed 3")
    assert [r.line for r in result.findings[0].related] == [14, 22]


def test_restating_comment_threshold_is_an_option() -> None:
    text = "void f(void)\n{\n\t/* unlock the big mutex now */\n\tmutex_unlock(&m);\n}\n"
    assert [f.line for f in lint_c_text(text, ["restating-comment"]).findings] == [3]
    # 'big' is not in the code: 2 of 3 content words match, below a stricter threshold
    from patchbot.api import Context, SourceFile

    rule = next(r for r in load_rules() if r.id == "restating-comment")
    ctx = Context(rule=rule.rule, options={"min_overlap": 0.9}, file=SourceFile("f.c", text))
    assert list(rule.check(ctx)) == []


def test_terminology_terms_are_configurable() -> None:
    text = (
        "/* Share the page with the host. */\n"
        "static int demo_share(void *p)\n{\n"
        "\treturn set_memory_encrypted((unsigned long)p, 1);\n}\n"
    )
    rule = next(r for r in load_rules() if r.id == "terminology-mismatch")
    from patchbot.api import Context, SourceFile

    terms = [
        {
            "term": "sharing",
            "phrase": "sharing memory",
            "words": ["share", "shared"],
            "calls": ["set_memory_decrypted"],
            "lookalikes": ["encrypted"],
        }
    ]
    ctx = Context(rule=rule.rule, options={"terms": terms}, file=SourceFile("f.c", text))
    (finding,) = rule.check(ctx)
    assert finding.message == (
        "demo_share() speaks of sharing memory, but it only calls set_memory_encrypted(); "
        "where does sharing happen?"
    )
    assert finding.line == 1


def test_duplicated_logic_only_looks_at_added_lines() -> None:
    """In patch mode unchanged kernel code never makes a twin."""
    from patchbot.api import Context, SourceFile

    rule = next(r for r in load_rules() if r.id == "duplicated-logic")
    text = (RULE_FIXTURES / "duplicated-logic" / "mirrored_loops.c").read_text()
    twin_line = text.split("\n").index("\tint chunk, nr, rc;") + 1
    whole = SourceFile("m.c", text)
    ctx = Context(rule=rule.rule, options={}, file=None, files=[whole])
    assert [f.line for f in rule.check(ctx)] == [twin_line + 3]
    # only the second function added: its twin is unchanged code, which never counts
    second_only = SourceFile("m.c", text, added=frozenset(range(twin_line, twin_line + 17)))
    ctx = Context(rule=rule.rule, options={}, files=[second_only])
    assert list(rule.check(ctx)) == []
