"""Several processes on one ledger never send a reply twice (issue 16 item 10).

Real processes (`patchbot post --queue`, `patchbot watch`) against a real aiosmtpd
intake that archives through public-inbox-mda; deliveries are counted at the intake.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from archive_helpers import free_port
from bot_site import V1_COVER, Site, site

pytestmark = [pytest.mark.archive, pytest.mark.slow]

WORKERS = 4


def queue_v1_replies(s: Site) -> list[str]:
    """The 3 replies to v1, queued in the ledger and not sent (the SMTP port is dead)."""
    shown = s.patchbot("review", V1_COVER)
    assert shown.returncode == 0, shown.stderr
    (s.work / "replies.mbox").write_text(shown.stdout)
    s.write_config(smtp_port=free_port())
    refused = s.patchbot("post", "--send", "replies.mbox")
    assert refused.returncode == 2 and "cannot connect" in refused.stderr, refused.stderr
    s.write_config()
    assert set(s.ledger_states().values()) == {"queued"}
    return re.findall(r"^Message-ID: (<[^>]+>)", shown.stdout, re.MULTILINE)


def test_concurrent_flushes_send_each_queued_reply_once(tmp_path: Path) -> None:
    with site(tmp_path, "v1", delay=0.4) as s:
        ids = queue_v1_replies(s)
        assert len(ids) == 3
        procs = [s.popen("post", "--queue") for _ in range(WORKERS)]
        outs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outs, strict=True):
            assert proc.returncode == 0, (out, err)
            assert "Traceback" not in err and "internal error" not in err, err
        sent = [m for out, _err in outs for m in re.findall(r"^sent (<[^>]+>)", out, re.M)]
        assert Counter(s.intake.received) == Counter(ids), s.intake.received
        assert sorted(sent) == sorted(ids) and s.intake.datas == 3
        assert set(s.ledger_states().values()) == {"sent"}
        assert len(s.bot_replies(V1_COVER)) == 3


def test_review_send_next_to_a_running_bot_sends_each_reply_once(tmp_path: Path) -> None:
    with site(tmp_path, "v1", delay=0.3) as s:
        bot = s.popen("watch", "--send", "--interval", "0.2", "--wait", "0")
        try:
            time.sleep(0.5)
            reviews = [s.popen("review", "--send", V1_COVER) for _ in range(2)]
            for proc in reviews:
                _out, err = proc.communicate(timeout=120)
                assert proc.returncode in (0, 2), err
                assert "Traceback" not in err and "internal error" not in err, err
            deadline = time.monotonic() + 60
            while s.intake.datas < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5)  # a few more bot passes: nothing more may go out
        finally:
            bot.terminate()
            _out, log = bot.communicate(timeout=30)
        assert bot.returncode == 0, log
        assert "Traceback" not in log and "internal error" not in log, log
        assert s.intake.datas == 3, (s.intake.received, log)
        assert set(Counter(s.intake.received).values()) == {1}
        assert set(s.ledger_states().values()) == {"sent"}


def test_a_second_watch_on_the_same_ledger_is_refused(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s:
        first = s.popen("watch", "--interval", "60")
        try:
            deadline = time.monotonic() + 60
            while not (s.work / "ledger.sqlite").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
            second = s.patchbot("watch", "--once", "--send")
            assert second.returncode == 2, second.stderr
            assert second.stderr.count("\n") == 1, second.stderr
            assert "another `patchbot watch`" in second.stderr and "ledger" in second.stderr
            assert s.intake.datas == 0
        finally:
            first.terminate()
            first.communicate(timeout=30)
        after = s.patchbot("watch", "--once", "--send", "--wait", "0")
        assert after.returncode == 0, after.stderr  # the lock went with the process
        assert s.intake.datas == 3
