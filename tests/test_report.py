"""Report formats over a hand-built LintResult (series, findings with related/trace)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from test_engine_support import CALL_RULE, PATCH_RULE, write_rules

from patchbot.api import Finding, Location, Severity
from patchbot.engine import LintResult, load_rules
from patchbot.report import b4, jsonout, review, sarif, text
from patchbot.series.model import DiffLine, FileDiff, Hunk, Patch, Series

PATH = "drivers/demo/demo_buf.c"


def _hunk() -> Hunk:
    body = [
        (" ", "\tif (!dd->pages)", 10, 10),
        (" ", "\t\treturn -ENOMEM;", 11, 11),
        (" ", "", 12, 12),
        ("+", "\tret = set_memory_decrypted(addr, npages);", None, 13),
        ("+", "\tif (ret)", None, 14),
        ("+", "\t\tgoto err_free;", None, 15),
        ("+", "", None, 16),
        (" ", "\tret = demo_map(dd);", 13, 17),
        (" ", "\tif (ret)", 14, 18),
        (" ", "\t\tgoto err_free;", 15, 19),
        ("+", "\tfrob(dd);", None, 20),
        (" ", "", 16, 21),
    ]
    return Hunk(
        10,
        7,
        10,
        12,
        "static int demo_buf_setup(struct demo_dev *dd)",
        [DiffLine(k, t, o, n) for k, t, o, n in body],
    )


def _result(tmp_path: Path) -> LintResult:
    patch1 = Patch(
        subject="[PATCH 1/2] demo: share the buffer",
        title="demo: share the buffer",
        number=1,
        total=2,
        author_name="Ada Example",
        author_email="ada@example.org",
        date="Sun, 22 Nov 2026 21:21:07 +0000",
        message_id="<p1@example.org>",
        files=[FileDiff(PATH, PATH, [_hunk()])],
    )
    patch2 = Patch(
        subject="[PATCH 2/2] demo: reset",
        title="demo: reset",
        number=2,
        total=2,
        message_id="<p2@example.org>",
    )
    series = Series(
        patches=[patch1, patch2], source="demo.mbox", warnings=["patch 2/2: hunk count repaired"]
    )
    leak = Finding(
        rule="demo-call",
        severity=Severity.ERROR,
        path=PATH,
        line=15,
        col=3,
        function="demo_buf_setup",
        patch="1/2",
        message="can this leak the pages if set_memory_decrypted() fails?",
        related=[Location(PATH, 20, 1, "demo_buf_setup", "pages are freed here")],
        trace=[
            Location(PATH, 13, 2, "demo_buf_setup", "set_memory_decrypted() fails"),
            Location(PATH, 15, 3, "demo_buf_setup", "goto err_free frees shared pages"),
        ],
        suggestion="leak the pages on failure instead of freeing them",
        platform="tdx",
        fault="set_memory_decrypted#1",
    )
    frob = Finding(
        rule="demo-call",
        severity=Severity.WARNING,
        path=PATH,
        line=20,
        message="frob() is forbidden here",
        patch="1/2",
        function="demo_buf_setup",
    )
    signoff = Finding(
        rule="demo-signoff",
        severity=Severity.INFO,
        path="",
        line=0,
        message="[PATCH 2/2] has no Signed-off-by",
        patch="2/2",
    )
    rules = load_rules(
        [write_rules(tmp_path / "r", demo_call=CALL_RULE, demo_signoff=PATCH_RULE)],
        include_bundled=False,
    )
    return LintResult(
        findings=[leak, frob, signoff],
        warnings=list(series.warnings),
        series=series,
        rules=rules,
        suppressed=1,
    )


@pytest.fixture
def result(tmp_path):
    return _result(tmp_path)


def test_text_is_gcc_style_grouped_by_patch(result):
    lines = text.render(result).splitlines()
    assert lines == [
        "[PATCH 1/2] demo: share the buffer",
        f"{PATH}:15:3: error: can this leak the pages if set_memory_decrypted() fails? [demo-call]",
        f"{PATH}:20:1: note: pages are freed here",
        f"    1. {PATH}:13:2 in demo_buf_setup(): set_memory_decrypted() fails",
        f"    2. {PATH}:15:3 in demo_buf_setup(): goto err_free frees shared pages",
        "    (platform tdx, fault set_memory_decrypted#1)",
        "    suggestion: leak the pages on failure instead of freeing them",
        f"{PATH}:20:1: warning: frob() is forbidden here [demo-call]",
        "[PATCH 2/2] demo: reset",
        ":0:1: info: [PATCH 2/2] has no Signed-off-by [demo-signoff]",
        "patchbot: 3 findings (1 error, 1 warning, 1 info) in 2 patches (1 suppressed)",
    ]


def test_json_validates_against_its_schema(result):
    doc = json.loads(jsonout.render(result))
    jsonschema.validate(doc, jsonout.SCHEMA)
    first = doc["findings"][0]
    assert first["patch"] == {
        "label": "1/2",
        "subject": "[PATCH 1/2] demo: share the buffer",
        "message_id": "<p1@example.org>",
    }
    assert first["trace"][0]["note"] == "set_memory_decrypted() fails"
    assert doc["warnings"] == ["patch 2/2: hunk count repaired"]
    assert doc["summary"] == {"error": 1, "warning": 1, "info": 1, "suppressed": 1, "baselined": 0}
    # the schema is strict enough to catch a broken report
    doc["findings"][0]["severity"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, jsonout.SCHEMA)


def test_sarif_structure(result):
    doc = json.loads(sarif.render(result))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "patchbot"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["demo-call", "demo-signoff"]
    for rule in rules:
        assert {
            "id",
            "shortDescription",
            "fullDescription",
            "help",
            "defaultConfiguration",
        } <= rule.keys()
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert rule["help"]["markdown"]
    assert rules[0]["shortDescription"]["text"] == "calls a function the demo forbids"
    assert rules[0]["deprecatedIds"] == ["old-demo-call"]
    assert rules[1]["defaultConfiguration"]["level"] == "error"
    levels = [r["level"] for r in run["results"]]
    assert levels == ["error", "warning", "note"]
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["message"]["text"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    leak = run["results"][0]
    assert leak["relatedLocations"][0]["message"]["text"] == "pages are freed here"
    flow = leak["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in flow] == [13, 15]
    assert run["invocations"][0]["toolExecutionNotifications"][0]["level"] == "warning"


def test_b4_entry(result):
    (entry,) = json.loads(b4.render(result))
    assert set(entry) == {"tool", "status", "summary", "url", "details"}
    assert entry["status"] == "fail"  # there is an error finding
    assert entry["summary"] == "3 findings (1 error, 1 warning, 1 info)"
    details = json.loads(entry["details"])
    assert [d["status"] for d in details] == ["fail", "warn", "pass", "warn"]
    result.findings = [f for f in result.findings if f.severity == Severity.INFO]
    result.warnings = []
    (entry,) = json.loads(b4.render(result))
    assert entry["status"] == "pass"


def test_review_reply_quotes_the_hunk_and_comments_under_it(result):
    out = review.render(result)
    first, second = out.split("From patchbot ")[1:]
    assert "Subject: Re: [PATCH 1/2] demo: share the buffer\nIn-Reply-To: <p1@example.org>" in first
    body = first.split("\n\n", 1)[1]
    expected_start = (
        "On Sun, 22 Nov 2026 21:21:07 +0000, Ada Example <ada@example.org> wrote:\n"
        f"> diff --git a/{PATH} b/{PATH}\n"
        "> @@ -10,7 +10,12 @@ static int demo_buf_setup(struct demo_dev *dd)\n"
        "> [...]\n"
        ">\n"
        "> +\tret = set_memory_decrypted(addr, npages);\n"
        "> +\tif (ret)\n"
        "> +\t\tgoto err_free;\n"
        "\n"
        "can this leak the pages if set_memory_decrypted() fails? [demo-call]\n"
    )
    assert body.startswith(expected_start)
    # the second comment continues the quote without repeating the lines above
    assert "> [...]\n>  \tret = demo_map(dd);\n" in body
    assert ">  \t\tgoto err_free;\n> +\tfrob(dd);\n\nfrob() is forbidden here" in body
    assert body.rstrip().endswith("-- \npatchbot")
    assert "[PATCH 2/2] has no Signed-off-by [demo-signoff]" in second


def test_review_quotes_commit_message_lines_first(result):
    patch = result.series.patches[0]
    patch.body = "Share the buffer with the host.\n\nSigned-off-by: Ada Example <ada@example.org>"
    result.findings.append(
        Finding(
            rule="demo-signoff",
            severity=Severity.WARNING,
            path="COMMIT_MSG",
            line=3,
            message="say why the host needs the buffer",
            patch="1/2",
        )
    )
    body = review.reply_body(patch, [f for f in result.findings if f.patch == "1/2"])
    lines = body.splitlines()
    assert lines[1:4] == [
        "> Share the buffer with the host.",
        "",
        "say why the host needs the buffer [demo-signoff]",
    ]
    assert lines[5].startswith("> diff --git")
