"""The bot survives a review that raises: one series' failure is logged with the series,
counted in the ledger, retried a bounded number of times (restarts included) and then
given up, while every other series is reviewed and answered.

The archive and the SMTP intake are real (tests/bot_site.py) and so is the Bot; the
failure itself is injected into reply composition, because every input known to crash
it (issue 16 item 8) is fixed and a test of the safety net needs a crash that stays.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from bot_site import V1_COVER, Site, site
from test_post_hostile import HOSTILE, single_patch

from patchbot.config import load_config
from patchbot.post.ledger import Ledger
from patchbot.post.settings import load_post_settings
from patchbot.watch import loop, review
from patchbot.watch.loop import MAX_ATTEMPTS, Bot

pytestmark = [pytest.mark.archive, pytest.mark.slow]


def make_bot(s: Site, ledger: Ledger) -> Bot:
    config = load_config(s.work / ".patchbot.toml")
    settings = load_post_settings(config, git={})
    return Bot(
        archive=s.base,
        engine=review.build_engine(config),
        settings=settings,
        ledger=ledger,
        send=True,
        wait=0,
        settle=0,
    )


def test_a_review_that_raises_is_retried_then_given_up_and_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = review.reply_messages
    crashes: list[str] = []

    def crashing(thread, result, **kw):
        if thread.series.patches[0].author_email == "mallory@example.org":
            crashes.append(thread.message_id)
            raise ValueError("address parts cannot contain CR or LF")
        return real(thread, result, **kw)

    monkeypatch.setattr(review, "reply_messages", crashing)
    caplog.set_level(logging.INFO, logger="patchbot")
    with site(tmp_path, "v1") as s:
        ok, why = s.inbox.deliver(single_patch(HOSTILE, "evil: share the page", "x@example.org"))
        assert ok, why
        with Ledger(s.work / "ledger.sqlite") as ledger:
            bot = make_bot(s, ledger)
            assert bot.poll() is False
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1, errors
            assert "internal error in v1 of mallory@example.org:" in errors[0]
            assert f"<{HOSTILE}>" in errors[0] and "(attempt 1 of 3)" in errors[0]
            assert "ValueError: address parts cannot contain CR or LF" in errors[0]
            assert s.intake.datas == 3  # the other series was answered in the same pass
            assert len(s.bot_replies(V1_COVER)) == 3
            for attempt in range(2, MAX_ATTEMPTS + 1):
                caplog.clear()
                assert bot.poll() is False
                (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
                assert f"{attempt} of {MAX_ATTEMPTS}" in line
            assert "giving up on it" in line
            caplog.clear()
            assert bot.poll() is True  # given up: no more tries, no more error lines
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(crashes) == MAX_ATTEMPTS and s.intake.datas == 3
        # a restarted bot remembers: the ledger holds the attempts
        with Ledger(s.work / "ledger.sqlite") as ledger:
            assert make_bot(s, ledger).poll() is True
        assert len(crashes) == MAX_ATTEMPTS and s.intake.datas == 3


def test_a_failure_below_the_bound_is_retried_and_then_replied_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = review.reply_messages
    left = [1]  # a passing fault: the first try fails, the second works

    def flaky(thread, result, **kw):
        if left[0]:
            left[0] -= 1
            raise OSError("No space left on device")
        return real(thread, result, **kw)

    monkeypatch.setattr(review, "reply_messages", flaky)
    with site(tmp_path, "v1") as s, Ledger(s.work / "ledger.sqlite") as ledger:
        bot = make_bot(s, ledger)
        assert bot.poll() is False and s.intake.datas == 0
        assert bot.poll() is True and s.intake.datas == 3
        assert bot.poll() is True and s.intake.datas == 3
    assert loop.MAX_ATTEMPTS >= 2
