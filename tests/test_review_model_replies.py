"""Model-boot results in the review mails (issue 16 item 14): a single patch without a
cover letter keeps them, and a reply's Message-ID does not move with the timing of a
model run (a hang's last event depends on when the watchdog fired)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from test_review_compose_units import PATH, SENDER, _finding, _result, _series

from patchbot.model.bridge import Event, Fault
from patchbot.model.findings import to_findings
from patchbot.model.runner import MatrixResult, RunResult
from patchbot.model.state import Violation
from patchbot.post.message import build_message
from patchbot.review.compose import compose_replies
from patchbot.series.model import Series

SOURCE = "static int demo_buf_setup(struct demo_dev *dd)\n{\n"


@dataclass
class Boot:
    """What compose reads of a BootReport (patchbot.validate.boot)."""

    driver: str
    findings: list[Any]
    matrix: Any
    build_failure: Any = None
    runs: list[RunResult] = field(default_factory=list)


def _hang(last_line: int) -> RunResult:
    """A run the watchdog stopped: its last event is wherever the driver was by then."""
    events = [
        Event(0, "set_memory_decrypted", "demo_buf_setup", 13, (), injected=True),
        Event(1, "cond_resched", "demo_buf_setup", last_line, ()),
    ]
    where = events[-1].describe()
    violation = Violation(
        "hang", f"the run did not finish within 5 s; last event: {where}", 0, events[-1], events
    )
    return RunResult("plug", "tdx", Fault("conversion", 1), [violation], seconds=5.0 + last_line)


def _leak() -> RunResult:
    events = [Event(0, "set_memory_decrypted", "demo_buf_setup", 13, (), injected=True)]
    violation = Violation(
        "unknown-state-freed", "a page of unknown state was freed", 0, None, events
    )
    return RunResult("plug", "snp", Fault("conversion", 1), [violation])


def _boot(*runs: RunResult) -> Boot:
    return Boot("demo-buf", to_findings(runs, PATH, SOURCE), MatrixResult(list(runs)))


def _single() -> Series:
    series = _series()
    series.patches = series.patches[:1]
    series.patches[0].subject = "[PATCH] demo: share the buffer"
    series.patches[0].number = series.patches[0].total = None
    return series


def test_a_single_patch_without_a_cover_letter_keeps_the_model_results():
    series = _single()
    clean = _result(series, [])
    (mail,) = compose_replies(series, clean, sender=SENDER, validation=[_boot(_leak())])
    assert mail.in_reply_to == "<p1@example.org>"
    assert "Model boot (the patched driver in patchbot's CoCo memory model):" in mail.body
    assert "demo-buf x snp: 1 of 1 runs violate unknown-state-freed" in mail.body
    assert "[unknown-state-freed]" in mail.body and "model boot" in mail.body
    # with a lint finding as well: still one reply, carrying both
    linted = _result(series, [_finding(19, "frob() is forbidden here", patch="1/1")])
    series.patches[0].number = 1
    series.patches[0].total = 1
    mails = compose_replies(series, linted, sender=SENDER, validation=[_boot(_leak())])
    assert [m.in_reply_to for m in mails] == ["<p1@example.org>"]
    assert "[demo-call]" in mails[0].body and "[unknown-state-freed]" in mails[0].body


def test_two_patches_without_a_cover_keep_model_results_found_beside_one_lint_finding():
    series = _series()
    linted = _result(series, [_finding(19, "frob() is forbidden here")])
    mails = compose_replies(series, linted, sender=SENDER, validation=[_boot(_leak())])
    assert [m.kind for m in mails] == ["patch", "cover"]
    assert "violate unknown-state-freed" in mails[-1].body


def test_reply_message_ids_do_not_move_with_model_timing():
    series = _single()
    clean = _result(series, [])
    ids = []
    for last_line in (15, 18):  # the same input; the watchdog fired at another moment
        (mail,) = compose_replies(
            series, clean, sender=SENDER, validation=[_boot(_hang(last_line), _leak())]
        )
        assert f"line {last_line}" in mail.body or str(last_line) in mail.body
        ids.append(str(build_message(mail, sender=SENDER)["Message-ID"]))
    assert ids[0] == ids[1]
    # a different model result is a different reply
    (other,) = compose_replies(series, clean, sender=SENDER, validation=[_boot(_hang(15))])
    assert str(build_message(other, sender=SENDER)["Message-ID"]) != ids[0]
