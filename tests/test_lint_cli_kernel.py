"""patch mode on the real kernel tree: old findings in a touched function stay quiet.

The patch is generated at test time from the extracted linux-source-6.1 tree (nothing
of the kernel is stored in the repo): it adds one blank line inside the function of
drivers/virtio/virtio_mem.c that has the most findings in --file mode.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter

import jsonschema
import pytest
from test_engine_support import CALL_RULE, trust_directory, write_rules

from patchbot.cparse import function_spans
from patchbot.report.jsonout import SCHEMA

PATH = "drivers/virtio/virtio_mem.c"


def _mail(old: list[str], new: list[str]) -> str:
    diff = "".join(difflib.unified_diff(old, new, f"a/{PATH}", f"b/{PATH}", n=3))
    return (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: Ada Example <ada@example.org>\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0000\n"
        "Subject: [PATCH] virtio-mem: add a blank line\n\n"
        "Make the function easier to read.\n\n"
        "Signed-off-by: Ada Example <ada@example.org>\n---\n"
        f"diff --git a/{PATH} b/{PATH}\nindex 1111111..2222222 100644\n{diff}-- \n2.39.5\n"
    )


@pytest.mark.kernel_tree
def test_old_findings_in_touched_real_function_are_not_reported(
    kernel_tree, run_cli, tmp_path, monkeypatch
):
    # a rule that reports every mutex_lock() call, wherever it is: the engine alone
    # must keep the touched function's old calls out of the patch's report
    write_rules(tmp_path / "demo-rules", demo_call=CALL_RULE)
    (tmp_path / ".patchbot.toml").write_text(
        'rule-dirs = ["demo-rules"]\n[rules.demo-call]\ncall = "mutex_lock"\n'
    )
    trust_directory(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    common = ("--format", "json", "--fail-on", "never", "--select", "demo-call")
    source = kernel_tree / PATH
    code, out, err = run_cli("lint", "--file", str(source), *common)
    assert code == 0, err
    findings = json.loads(out)["findings"]
    by_function = Counter(f["function"] for f in findings if f["function"])
    assert by_function, "virtio_mem.c has no mutex_lock() calls any more?"
    target, count = by_function.most_common(1)[0]
    text = source.read_text()
    (span,) = [s for s in function_spans(text) if s.name == target][:1]
    old = text.splitlines(keepends=True)
    new = [*old[: span.body_start_line], "\n", *old[span.body_start_line :]]
    patch = tmp_path / "0001-blank.patch"
    patch.write_text(_mail(old, new))

    code, out, err = run_cli("lint", str(patch), "--tree", str(kernel_tree), *common)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["series"]["patches"][0]["applicable"]
    assert doc["findings"] == [], f"{count} old findings in {target}() leaked"

    # the same function, now with one more call: only that one is reported
    extra = ["\tmutex_lock(&demo_lock);\n"]
    new = [*old[: span.body_start_line], *extra, *old[span.body_start_line :]]
    patch.write_text(_mail(old, new))
    code, out, err = run_cli("lint", str(patch), "--tree", str(kernel_tree), *common)
    assert [(f["line"], f["function"]) for f in json.loads(out)["findings"]] == [
        (span.body_start_line + 1, target)
    ]


STYLE_RULES = {"duplicated-logic", "restating-comment", "repeated-expression"}


@pytest.mark.kernel_tree
def test_audit_of_unmodified_drivers_reports_only_coco_findings(kernel_tree, run_cli):
    """Style rules review what a patch adds: an audit of upstream code runs the CoCo rules
    (these two directories have no CoCo finding in 6.1), unless --select asks for more."""
    paths = ("--paths", "drivers/virtio", "drivers/dma-buf/heaps")
    code, out, err = run_cli("lint", *paths, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["findings"] == []
    code, out, err = run_cli("lint", *paths, "--format", "json", "--enable", "restating-comment")
    assert code == 0, err  # info findings: under the default --fail-on warning
    assert {f["rule"] for f in json.loads(out)["findings"]} == {"restating-comment"}


@pytest.mark.kernel_tree
def test_audit_mode_on_the_cached_tree(kernel_tree, run_cli):
    code, out, err = run_cli(
        "lint", "--paths", "drivers/virtio", "--format", "json", "--fail-on", "never",
        "--select", ",".join(sorted(STYLE_RULES)),
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert {f["rule"] for f in doc["findings"]} == STYLE_RULES  # an explicit --select wins
    jsonschema.validate(doc, SCHEMA)  # real rules' findings: related, trace, suggestion
    assert doc["mode"] == "files"
    assert doc["findings"], "auditing drivers/virtio found nothing at all"
    assert all(f["path"].startswith("drivers/virtio/") for f in doc["findings"])
