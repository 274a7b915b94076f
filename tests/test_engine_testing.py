"""The fixture runners other rule tests rely on must themselves be able to fail."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES
from test_engine_support import CALL_RULE, write_rules

from patchbot.testing import check_annotated_c, check_expected_patch, fixture_annotations

GOOD = """\
void demo(void)
{
\t/* ruleid: demo-call */
\tfrob(1);
\t/* ok: demo-call */
\tgrab(2);
\t/* ruleid: demo-call */
\t/* ok: other-rule */
\tfrob(3);
}
"""


@pytest.fixture
def rule_dirs(tmp_path):
    return [write_rules(tmp_path / "rules", demo_call=CALL_RULE)]


def test_annotations_target_the_next_code_line():
    marks = fixture_annotations(GOOD)
    assert marks["ruleid"] == {"demo-call": {4, 9}}
    assert marks["ok"] == {"demo-call": {6}, "other-rule": {9}}


def test_annotated_fixture_passes(rule_dirs, tmp_path):
    path = tmp_path / "good.c"
    path.write_text(GOOD)
    result = check_annotated_c(path, ["demo-call"], rule_dirs=rule_dirs)
    assert [f.line for f in result.findings] == [4, 9]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD.replace("\tfrob(3);", "\tgrab(3);"), "good.c:9: expected a finding of demo-call"),
        (GOOD.replace("\tgrab(2);", "\tfrob(2);"), "good.c:6: marked ok line fired demo-call"),
        (GOOD.replace("}\n", "\tfrob(4);\n}\n"), "good.c:10: unannotated line fired demo-call"),
    ],
)
def test_annotated_fixture_mismatches_fail(rule_dirs, tmp_path, text, needle):
    path = tmp_path / "good.c"
    path.write_text(text)
    with pytest.raises(AssertionError, match=needle):
        check_annotated_c(path, ["demo-call"], rule_dirs=rule_dirs)


def test_expected_sidecar(rule_dirs, tmp_path):
    patch = tmp_path / "0001.patch"
    shutil.copy(FIXTURES / "lint_cli/series/0001-demo-share-the-buffer-with-the-host.patch", patch)
    sidecar = tmp_path / "0001.patch.expected"
    sidecar.write_text("# the frob() the patch adds\ndemo-call drivers/demo/demo_buf.c:21\n")
    result = check_expected_patch(patch, rule_dirs=rule_dirs)
    assert [(f.rule, f.line) for f in result.findings] == [("demo-call", 21)]
    sidecar.write_text("demo-call drivers/demo/demo_buf.c:20\n")
    with pytest.raises(AssertionError) as info:
        check_expected_patch(patch, rule_dirs=rule_dirs)
    assert "missing: demo-call drivers/demo/demo_buf.c:20" in str(info.value)
    assert "unexpected: demo-call drivers/demo/demo_buf.c:21" in str(info.value)
    sidecar.unlink()
    with pytest.raises(AssertionError, match="missing sidecar"):
        check_expected_patch(patch, rule_dirs=rule_dirs)
