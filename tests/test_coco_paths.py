"""The path-sensitive CoCo rules on our annotated C fixtures (tests/fixtures/coco/)."""

from __future__ import annotations

import pytest

from patchbot.testing import check_annotated_c
from tests.conftest import FIXTURES

COCO = FIXTURES / "coco"

RULE_FIXTURES = [
    ("leak-on-failure", "leak_on_failure.c"),
    ("free-while-shared", "free_while_shared.c"),
    ("decrypt-before-unplug", "decrypt_before_unplug.c"),
    ("shared-mapping-encrypted", "shared_mapping_encrypted.c"),
]


@pytest.mark.parametrize(("rule_id", "fixture"), RULE_FIXTURES)
def test_annotated_fixture(rule_id: str, fixture: str) -> None:
    result = check_annotated_c(COCO / fixture, [rule_id])
    assert any(f.rule == rule_id for f in result.findings)


def test_leak_trace_names_the_failing_call_branch_and_free() -> None:
    result = check_annotated_c(COCO / "leak_on_failure.c", ["leak-on-failure"])
    by_line = {f.line: f for f in result.findings}
    goto_case = by_line[103]  # kfree() reached through 'goto err_free'
    assert goto_case.function == "demo_setup_ring"
    assert [(t.line, t.note) for t in goto_case.trace] == [
        (96, "set_memory_decrypted() fails here"),
        (97, "branch 'if (ret < 0)' is true (set_memory_decrypted() failed)"),
        (98, "goto err_free"),
        (103, "kfree() called here"),
    ]
    retry = by_line[40]  # re-encrypt, then free anyway
    assert "set_memory_encrypted()" in retry.message and "not checked" in retry.message
    assert [t.line for t in retry.trace] == [37, 37, 38, 40]


def test_free_while_shared_across_functions_points_at_the_decrypt() -> None:
    result = check_annotated_c(COCO / "free_while_shared.c", ["free-while-shared"])
    (cross,) = [f for f in result.findings if f.function == "demo_remove"]
    assert cross.message.endswith("?")  # a heuristic: phrased as a question
    assert [(r.line, r.function) for r in cross.related] == [(59, "demo_probe")]


def test_leak_after_a_later_call_fails_names_that_call_not_the_conversion() -> None:
    """The decrypt succeeded; the device request failed and its error path re-encrypts
    without checking: the message and trace name the request, not the decrypt."""
    result = check_annotated_c(COCO / "leak_on_failure.c", ["leak-on-failure"])
    (finding,) = [f for f in result.findings if f.function == "demo_give_to_device"]
    assert finding.message.startswith(
        "when demo_send_buffer() fails, set_memory_encrypted() converts the pages back"
    ), finding.message
    assert "set_memory_decrypted() fails" not in finding.message
    notes = [t.note for t in finding.trace]
    assert notes[0] == "set_memory_decrypted() succeeds here"
    assert "branch 'if (rc)' is true (demo_send_buffer() failed)" in notes
