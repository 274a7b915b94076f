"""Damaged input: a patch quoted in a review reply is linted as far as it can be.

The fixture patch (our own demo-ring driver) adds set_memory_decrypted() in the middle of
demo_ring_setup(); its error path frees the pages.  The review reply quotes it the way
mail clients mangle diffs: '> ' before every line, every run of blanks collapsed to one
space (so context lines start in column 0), a reviewer comment splitting the hunk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbot.cparse.coco import file_hits
from patchbot.cparse.fragments import FRAGMENT_PREFIX, synthesize_fragments
from patchbot.cparse.functions import analyze_file
from patchbot.cparse.parse import function_spans
from patchbot.cparse.paths import follow_conversion
from patchbot.series.images import source_files
from patchbot.series.load import load_series
from patchbot.testing import check_expected_patch, lint_patch_file
from tests.conftest import FIXTURES

REPLY_DIR = FIXTURES / "coco_series" / "demo-ring-review-reply"
CLEAN = REPLY_DIR / "0001-demo-ring-share-the-event-ring-with-the-host.patch"
REPLY = REPLY_DIR / "review-reply-quoted-mangled.eml"
RULES = ["leak-on-failure", "free-while-shared"]


def test_reply_really_is_quoted_and_flattened() -> None:
    text = REPLY.read_text()
    assert "> + ret = set_memory_decrypted((unsigned long)page_address(page)," in text
    assert "> + __free_pages(page, ring->order);" in text
    assert "\t" not in text
    (patch,) = load_series([str(REPLY)]).patches
    assert not patch.applicable
    assert any("quoted" in w for w in patch.warnings)


@pytest.mark.parametrize("fixture", [CLEAN, REPLY], ids=["clean", "quoted-reply"])
def test_hunk_only_findings_match_the_sidecar(fixture: Path) -> None:
    check_expected_patch(fixture, RULES)


def test_reply_reports_what_the_clean_patch_reports() -> None:
    def found(path: Path) -> set[tuple[str, int, str]]:
        result = lint_patch_file(path, RULES)
        assert not result.errors
        return {(f.rule, f.line, f.message) for f in result.findings}

    clean = found(CLEAN)
    assert {(rule, line) for rule, line, _ in clean} == {("leak-on-failure", 51)}
    assert found(REPLY) == clean


@pytest.mark.parametrize("fixture", [CLEAN, REPLY], ids=["clean", "quoted-reply"])
def test_headless_body_paths_are_all_seen(fixture: Path) -> None:
    """The analysis sees both bad paths of the rebuilt body, the one on context lines
    too (request_irq() fails after the decrypt worked: err_free frees shared pages)."""
    series = load_series([str(fixture)])
    (source,) = source_files(series, series.patches[0])
    hits = {(h.event.name, h.event.line, h.status) for _f, h in file_hits(source.text)}
    assert ("__free_pages", 51, "failed") in hits
    assert ("__free_pages", 64, "ok") in hits
    spans = function_spans(source.text, include_fragments=True)
    assert [s.name for s in spans if s.start_line <= 64 <= s.end_line] == [FRAGMENT_PREFIX + "42"]
    assert function_spans(source.text) == ()  # the default lists named functions only


def _flat(lines: list[str]) -> str:
    """Lines as a damaged reply leaves them: no indentation at all."""
    return "\n".join(line.strip() for line in lines)


def test_flat_fragment_after_an_unclosed_struct_is_analysed() -> None:
    text = (
        "\n" * 5
        + _flat(["struct demo {", "\tstruct page *pages;"])
        + "\n" * 10
        + _flat(
            [
                "\tret = set_memory_decrypted(addr, 1);",
                "\tif (ret) {",
                '\t\tpr_err("no\\n");',
                "\t\tgoto out;",
                "\t}",
                "\treturn 0;",
                "out:",
                "\tfree_pages(addr, 0);",
                "\treturn ret;",
                "}",
            ]
        )
        + "\n"
    )
    lines = text.split("\n")
    body = lines.index("ret = set_memory_decrypted(addr, 1);")
    rebuilt = synthesize_fragments(text).split("\n")
    assert len(rebuilt) == len(lines)  # line numbers are kept
    assert rebuilt[body - 1].startswith("};void " + FRAGMENT_PREFIX)  # struct closed first
    (func,) = analyze_file(text).functions
    conv = func.events_of("conversion")[0]
    assert conv.line == body + 1
    failed = [h for h in follow_conversion(func, conv) if h.status == "failed"]
    assert [(h.event.name, h.event.line) for h in failed] == [("free_pages", body + 8)]


def test_flat_top_level_code_is_not_taken_for_a_body() -> None:
    # a flattened whole file: macros at the top level, then two real functions
    text = _flat(
        [
            "module_param(demo_order, uint, 0444);",
            'MODULE_PARM_DESC(demo_order, "ring order");',
            "",
            "static int demo_a(void)",
            "{",
            "\treturn set_memory_decrypted(addr, 1);",
            "}",
            "",
            "static void demo_b(void)",
            "{",
            "\tfree_pages(addr, 0);",
            "}",
            "",
            'MODULE_LICENSE("GPL");',
        ]
    )
    names = [f.name for f in analyze_file(text).functions]
    assert names == ["demo_a", "demo_b"]
