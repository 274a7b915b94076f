"""A reply whose delivery may have happened, with no archive to ask, has a way out:
`patchbot post --resolve MSGID sent|drop|resend` (issue 16 item 11).  Real aiosmtpd
intake, a real server that drops the connection during DATA, the real ledger."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bot_site import SENDER, V1_COVER, Site, site
from smtp_helpers import dropping_smtp

pytestmark = [pytest.mark.archive, pytest.mark.slow]


def no_archive_config(s: Site, port: int) -> None:
    (s.work / ".patchbot.toml").write_text(
        f'[post]\nfrom = "{SENDER}"\nsmtpServer = "127.0.0.1"\nsmtpServerPort = {port}\n'
        f'timeout = 20\nledger = "ledger.sqlite"\n\n{s.lists}'
    )


def test_an_uncertain_reply_without_an_archive_can_be_resolved(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s, dropping_smtp() as flaky:
        shown = s.patchbot("review", V1_COVER)
        (s.work / "replies.mbox").write_text(shown.stdout)
        one, two, three = re.findall(r"^Message-ID: (<[^>]+>)", shown.stdout, re.MULTILINE)
        no_archive_config(s, flaky)
        run = s.patchbot("post", "--send", "replies.mbox")
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert "--resolve" in run.stderr, run.stderr  # not a bare "retry with --queue"
        assert set(s.ledger_states().values()) == {"queued"}

        no_archive_config(s, s.smtp_port)
        stuck = s.patchbot("post", "--queue", "--settle", "0")
        assert stuck.returncode == 2 and stuck.stdout.count("waiting <patchbot.") == 3
        assert "--resolve" in stuck.stderr and s.intake.datas == 0

        seen = s.patchbot("post", "--resolve", one, "sent")
        assert seen.returncode == 0, seen.stderr
        assert f"resolved {one}: sent" in seen.stdout
        dropped = s.patchbot("post", "--resolve", two, "drop")
        assert dropped.returncode == 0, dropped.stderr
        again = s.patchbot("post", "--resolve", three, "resend")
        assert again.returncode == 0, again.stderr
        assert s.ledger_states() == {one: "sent", two: "dropped", three: "queued"}
        assert s.intake.datas == 0  # resolving sends nothing by itself

        out = s.patchbot("post", "--queue", "--settle", "0")
        assert out.returncode == 0, out.stderr
        assert out.stdout.count("sent <patchbot.") == 1 and s.intake.received == [three]
        assert s.ledger_states() == {one: "sent", two: "dropped", three: "sent"}
        quiet = s.patchbot("post", "--queue", "--settle", "0")
        assert quiet.returncode == 0 and s.intake.datas == 1

        for args, words in (
            (("<nobody@example.org>", "sent"), "not in the ledger"),
            ((one, "drop"), "already sent"),
            ((two, "resend"), "dropped"),
        ):
            bad = s.patchbot("post", "--resolve", *args)
            assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
            assert words in bad.stderr, bad.stderr
        wrong = s.patchbot("post", "--resolve", one, "maybe")
        assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
        assert s.ledger_states() == {one: "sent", two: "dropped", three: "sent"}
