"""compose_replies() on a small hand-built series: recipients, trimming, phrasing, summary.

The hunk and the findings are our own (a demo driver); the model-boot summary uses a
real boot of virtio-mem from the cached 6.1 tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pytest

from patchbot.api import Finding, Location, Rule, Severity
from patchbot.engine import LintResult
from patchbot.engine.loader import LoadedRule
from patchbot.review import compose
from patchbot.review.compose import compose_replies, findings_digest, reply_subject
from patchbot.series.model import DiffLine, FileDiff, Hunk, Patch, Series

PATH = "drivers/demo/demo_buf.c"
SENDER = "patchbot <bot@example.org>"


def _hunk() -> Hunk:
    rows = [
        (" ", "static int demo_buf_setup(struct demo_dev *dd)", 8, 8),
        (" ", "{", 9, 9),
        (" ", "\tif (!dd->pages)", 10, 10),
        (" ", "\t\treturn -ENOMEM;", 11, 11),
        (" ", "", 12, 12),
        ("+", "\tret = set_memory_decrypted(addr, npages);", None, 13),
        ("+", "\tif (ret)", None, 14),
        ("+", "\t\tgoto err_free;", None, 15),
        (" ", "\tret = demo_map(dd);", 13, 16),
        (" ", "\tif (ret)", 14, 17),
        (" ", "\t\tgoto err_free;", 15, 18),
        ("+", "\tfrob(dd);", None, 19),
        (" ", "\treturn 0;", 16, 20),
        (" ", "}", 17, 21),
    ]
    return Hunk(8, 10, 8, 14, "", [DiffLine(k, t, o, n) for k, t, o, n in rows])


def _series(cover: bool = False) -> Series:
    p1 = Patch(
        subject="[PATCH 1/2] demo: share the buffer",
        title="demo: share the buffer",
        number=1,
        total=2,
        author_name="Ada Example",
        author_email="ada@example.org",
        date="Sun, 22 Nov 2026 21:21:07 +0000",
        message_id="p1@example.org",
        in_reply_to="cover@example.org" if cover else "",
        body="Share the buffer with the host.\n\nSigned-off-by: Ada Example <ada@example.org>",
        files=[FileDiff(PATH, PATH, [_hunk()])],
    )
    p2 = Patch(
        subject="[PATCH 2/2] demo: reset",
        title="demo: reset",
        number=2,
        total=2,
        author_name="Ada Example",
        author_email="ada@example.org",
        message_id="p2@example.org",
    )
    head = None
    if cover:
        head = Patch(
            subject="[PATCH 0/2] demo: shared buffers",
            title="demo: shared buffers",
            number=0,
            total=2,
            author_name="Ada Example",
            author_email="ada@example.org",
            message_id="cover@example.org",
            is_cover=True,
        )
    return Series(patches=[p1, p2], cover=head)


def _finding(line: int, message: str, rule: str = "demo-call", patch: str = "1/2", **kw) -> Finding:
    return Finding(rule, Severity.WARNING, message, PATH, line, patch=patch, **kw)


def _loaded(rule_id: str, confidence: str) -> LoadedRule:
    rule = Rule(rule_id, Severity.WARNING, "patch", "demo", confidence=confidence)
    return LoadedRule(rule, lambda ctx: [], Path(f"{rule_id}.py"), "")


def _result(series: Series, findings: list[Finding], *heuristic: str) -> LintResult:
    rules = [_loaded(r, "heuristic") for r in heuristic] + [_loaded("demo-call", "high")]
    return LintResult(findings=findings, series=series, rules=rules)


def test_quote_keeps_three_lines_of_context_and_cuts_exactly_there():
    series = _series()
    findings = [_finding(15, "pages leak here"), _finding(19, "frob() is forbidden here")]
    (mail,) = compose_replies(series, _result(series, findings), sender=SENDER)
    quote = mail.body.split("\n-- \n")[0].split("\n")[1:]
    assert quote == [
        f"> diff --git a/{PATH} b/{PATH}",
        f"> --- a/{PATH}",
        f"> +++ b/{PATH}",
        "> @@ -8,10 +8,14 @@",
        "> [...]",
        ">",
        "> +\tret = set_memory_decrypted(addr, npages);",
        "> +\tif (ret)",
        "> +\t\tgoto err_free;",
        "",
        "pages leak here [demo-call]",
        "",
        ">  \tret = demo_map(dd);",
        ">  \tif (ret)",
        ">  \t\tgoto err_free;",
        "> +\tfrob(dd);",
        "",
        "frob() is forbidden here [demo-call]",
        "",
        "> [...]",
        "",
    ]


def test_no_mail_without_findings_and_no_summary_for_one_patch():
    series = _series()
    assert compose_replies(series, _result(series, []), sender=SENDER) == []
    (mail,) = compose_replies(series, _result(series, [_finding(19, "no")]), sender=SENDER)
    assert (mail.kind, mail.patch_index) == ("patch", 1)
    assert mail.to == ["Ada Example <ada@example.org>"]
    assert mail.references == ["<p1@example.org>"]


def test_two_patches_without_a_cover_letter_get_a_summary_under_patch_one():
    series = _series()
    findings = [_finding(19, "no"), _finding(0, "say why", rule="demo-why", patch="2/2")]
    mails = compose_replies(series, _result(series, findings), sender=SENDER)
    assert [(m.kind, m.patch_index) for m in mails] == [("patch", 1), ("patch", 2), ("cover", None)]
    assert mails[-1].in_reply_to == "<p1@example.org>"
    assert mails[-1].findings_digest == findings_digest(findings)
    assert mails[-1].findings_digest != mails[0].findings_digest
    # a finding on no diff line comes after the quotes, with where it is
    assert "Also, on lines the quote above does not show:" not in mails[1].body
    assert f"{PATH}:0:\nsay why [demo-why]\n" in mails[1].body


@dataclass(frozen=True)
class _Headers:
    sender: str
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


def test_recipients_come_from_the_reviewed_message():
    series = _series(cover=True)
    headers = {
        "p1@example.org": _Headers(
            sender="Ada Example <ada@example.org>",
            to=["demo-list@lists.example.org", "Bob Maint <bob@example.org>"],
            cc=["ADA@example.org", "patchbot <BOT@example.org>", "bob@example.org", "c@x.org"],
            references=["<cover@example.org>"],
        ),
        "cover@example.org": _Headers(sender="Ada Example <ada@example.org>"),
    }
    mails = compose_replies(
        series, _result(series, [_finding(19, "no")]), sender=SENDER, headers=headers
    )
    patch, cover = mails
    assert patch.to == ["Ada Example <ada@example.org>"]
    assert patch.cc == ["demo-list@lists.example.org", "Bob Maint <bob@example.org>", "c@x.org"]
    assert patch.references == ["<cover@example.org>", "<p1@example.org>"]
    assert (cover.kind, cover.in_reply_to, cover.references) == (
        "cover",
        "<cover@example.org>",
        ["<cover@example.org>"],
    )
    assert cover.subject == "Re: [PATCH 0/2] demo: shared buffers"


def test_subject_gets_one_re():
    assert reply_subject("[PATCH] x:  y") == "Re: [PATCH] x: y"
    assert reply_subject("RE: [PATCH] x") == "RE: [PATCH] x"


def test_heuristics_ask_high_confidence_rules_state():
    series = _series()
    findings = [
        _finding(15, "this loop mirrors the one above; factor it out", rule="demo-dup"),
        _finding(19, "frob() is forbidden here"),
        _finding(16, "is demo_map() safe on shared pages?", rule="demo-dup"),
    ]
    (mail,) = compose_replies(series, _result(series, findings, "demo-dup"), sender=SENDER)
    text = " ".join(mail.body.split())
    assert "factor it out. Or am I missing something? [demo-dup]" in text
    assert "frob() is forbidden here [demo-call]" in text
    assert "is demo_map() safe on shared pages? [demo-dup]" in text
    assert "Or am I missing something?" not in text.split("[demo-dup]", 1)[1]


def test_trace_related_and_model_details_are_short_and_wrapped():
    series = _series()
    trace = [Location(PATH, 13, function="demo_buf_setup", note=f"step {n}") for n in range(12)]
    finding = _finding(
        15,
        "pages leak",
        trace=trace,
        related=[Location("drivers/demo/other.c", 3, note="twin")],
        platform="tdx",
        fault="set_memory_decrypted#1",
    )
    (mail,) = compose_replies(series, _result(series, [finding]), sender=SENDER)
    lines = mail.body.split("\n")
    start = lines.index("  Path:")
    assert lines[start + 1] == "    1. line 13 in demo_buf_setup(): step 0"
    assert "    ..." in lines[start : start + 10]
    assert "    12. line 13 in demo_buf_setup(): step 11" in lines
    assert "  See drivers/demo/other.c:3: twin" in lines
    assert "  Seen in the model boot: platform tdx, fault set_memory_decrypted#1" in lines
    assert "\n-- \npatchbot 0.1.0, model boot; rules: demo-call\n" in mail.body


def test_bodies_do_not_depend_on_finding_order():
    series = _series()
    a, b = _finding(15, "one"), _finding(19, "two")
    first = compose_replies(series, _result(series, [a, b]), sender=SENDER)
    second = compose_replies(series, _result(series, [b, a]), sender=SENDER)
    assert [m.findings_digest for m in first] == [m.findings_digest for m in second]
    assert [m.body for m in first] == [m.body for m in second]


def test_templates_refuse_a_missing_value():
    with pytest.raises(jinja2.UndefinedError):
        compose._render("patch.txt.j2", date="x", author="y", quoted=[], loose=[])


@pytest.mark.kernel_tree
def test_cover_reports_a_real_model_boot(kernel_tree):
    from patchbot.validate.boot import boot

    report = boot("virtio-mem", kernel_tree)
    assert report.matrix is not None
    series = _series(cover=True)
    mails = compose_replies(
        series, _result(series, [_finding(19, "no")]), sender=SENDER, validation=[report]
    )
    cover = mails[-1].body
    assert "Model boot (the patched driver in patchbot's CoCo memory model):" in cover
    for platform in ("none", "tdx", "snp"):
        runs = [r for r in report.matrix.runs if r.platform == platform]
        bad = [r for r in runs if r.violation is not None]
        names = ", ".join(sorted({r.violation.name for r in runs if r.violation is not None}))
        state = "clean" if not bad else f"{len(bad)} of {len(runs)} runs violate {names}"
        assert f"  virtio-mem x {platform}: {state}\n" in cover
    assert mails[-1].findings_digest == findings_digest([_finding(19, "no"), *report.findings])
    assert all(len(line) <= 72 for line in cover.split("\n") if not line.startswith(">"))


def test_a_fixture_mbox_with_cc_threads_and_builds_real_messages():
    """Headers read by patchbot.watch.thread, messages built by patchbot.post.message."""
    from email import message_from_bytes
    from email.policy import default

    from patchbot.config import Config
    from patchbot.engine import Engine, load_rules, select_rules
    from patchbot.post.message import as_bytes, build_message
    from patchbot.series import images
    from patchbot.series.load import load_series
    from patchbot.watch.thread import header_index

    mbox = Path(__file__).parent / "fixtures" / "review" / "demo-cc-series.mbox"
    config = Config()
    engine = Engine(select_rules(load_rules(config.rule_dirs), config), config)
    series = load_series([str(mbox)])
    result = engine.lint_series(series, images.source_files)
    assert sorted((f.patch, f.rule) for f in result.findings) == [
        ("1/2", "malformed-fixes-tag"),
        ("2/2", "missing-signoff"),
    ]
    mails = compose_replies(series, result, sender=SENDER, headers=header_index(mbox.read_bytes()))
    first, second, cover = mails
    assert first.cc == [
        "demo-list@lists.example.org",
        "Bob Maintainer <bob@example.org>",
        "Carol Reviewer <carol@example.org>",
    ]  # without us: the patch Cc'ed patchbot
    assert second.cc == ["demo-list@lists.example.org", "Bob Maintainer <bob@example.org>"]
    assert first.body.split("\n")[1:4] == [
        '> Fixes: 1234abc ("demo-buf: add the driver")',
        "",
        "Fixes: tag commit id 1234abc is shorter than 12 hex digits",
    ]
    assert cover.references == ["<cover.demo-cc@example.org>"]
    for mail in mails:
        msg = message_from_bytes(as_bytes(build_message(mail, sender=SENDER)), policy=default)
        assert str(msg["In-Reply-To"]).strip() == mail.in_reply_to
        assert msg.get_content().replace("\r\n", "\n") == mail.body


def test_series_wide_findings_go_in_the_summary_only():
    series = _series(cover=True)
    wide = Finding("demo-series", Severity.INFO, "should 2/2 come first?", "", 0)
    (cover,) = compose_replies(series, _result(series, [wide]), sender=SENDER)
    assert cover.kind == "cover"
    assert "About the series as a whole:\n\nshould 2/2 come first? [demo-series]\n" in cover.body
    assert "Details are in the replies" not in cover.body
    assert "      no findings" in cover.body
