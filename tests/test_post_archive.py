"""`patchbot review` and `patchbot post` against a REAL public-inbox archive and a real
aiosmtpd intake that archives through public-inbox-mda; b4 fetches the result."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from archive_helpers import LIST, free_port
from bot_site import SENDER, V1_COVER, V1_PATCH1, V1_PATCH2, site
from smtp_helpers import dropping_smtp

pytestmark = [pytest.mark.archive, pytest.mark.slow]


def test_review_prints_and_sends_nothing_without_send(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s:
        run = s.patchbot("review", V1_COVER)
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("\nMessage-ID: <patchbot.") == 3
        assert f"In-Reply-To: <{V1_PATCH1}>" in run.stdout
        assert f"In-Reply-To: <{V1_PATCH2}>" in run.stdout
        assert "Subject: Re: [PATCH 1/2] virtio-balloon: add helpers" in run.stdout
        assert "To: Dana Author <dana@example.org>" in run.stdout
        assert run.stdout.count("\nCc: coco@example.org, Erin Reviewer <erin@example.org>\n") == 3
        assert f"References: <{V1_COVER}> <{V1_PATCH2}>\n" in run.stdout
        assert "Reproduce locally:\n  patchbot lint --archive http://127.0.0.1:" in run.stdout
        assert s.intake.datas == 0 and s.bot_replies(V1_COVER) == []
        assert not (s.work / "ledger.sqlite").exists()
        # what was printed is what post would send: same Message-IDs, nothing sent either
        (s.work / "replies.mbox").write_text(run.stdout)
        shown = s.patchbot("post", "replies.mbox")
        assert shown.returncode == 0, shown.stderr
        ids = [ln for ln in run.stdout.splitlines() if ln.startswith("Message-ID:")]
        assert [ln for ln in shown.stdout.splitlines() if ln.startswith("Message-ID:")] == ids
        assert s.intake.datas == 0


def test_review_send_threads_each_reply_once_and_b4_still_fetches(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s:
        run = s.patchbot("review", "--send", V1_PATCH2)  # any message of the thread
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("sent <patchbot.") == 3, run.stdout
        replies = s.bot_replies(V1_COVER)
        parents = sorted(r for _m, r in replies)
        assert parents == sorted([f"<{V1_COVER}>", f"<{V1_PATCH1}>", f"<{V1_PATCH2}>"])
        assert all(rcpts[0] == "dana@example.org" and LIST in rcpts for rcpts in s.intake.rcpts)
        # a re-run reviews the same patches with the same findings: nothing new is sent
        again = s.patchbot("review", "--send", V1_COVER)
        assert again.returncode == 0, again.stderr
        assert again.stdout.count("known <patchbot.") == 3, again.stdout
        assert "\nsent <" not in "\n" + again.stdout
        assert s.intake.datas == 3
        # the thread now holds the bot's replies: expected in an archive, so no warning
        assert "skipped reply" not in again.stderr and "warning" not in again.stderr
        counts = Counter(m for m, _r in s.thread(V1_COVER))
        assert set(counts.values()) == {1} and len(counts) == 6

        home = tmp_path / "b4home"
        home.mkdir()
        out = tmp_path / "b4out"
        config = ["-c", f"b4.midmask={s.base}/%s", "-c", "b4.attestation-policy=off"]
        b4 = subprocess.run(
            ["b4", *config, "am", "-C", "-o", str(out), V1_PATCH1],
            env={"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "PATH": s.env()["PATH"]},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert b4.returncode == 0, b4.stderr
        assert "Analyzing 6 messages in the thread" in b4.stderr + b4.stdout
        mbx = list(out.glob("*.mbx"))
        assert len(mbx) == 1
        text = mbx[0].read_text()
        assert "[PATCH 1/2] virtio-balloon: add helpers" in text
        assert "[PATCH 2/2] virtio-balloon: share the stats page" in text


def test_muted_list_gets_nothing_and_caps_hold(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s:
        s.lists = ""  # no list opted in: everything is muted
        s.write_config()
        run = s.patchbot("review", "--send", V1_COVER)
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("muted <patchbot.") == 3
        assert "opted-in" in run.stdout and s.intake.datas == 0
        s.lists = f'[post.lists."{LIST}"]\nsend = false\n'  # listed, still muted
        s.write_config()
        run = s.patchbot("review", "--send", V1_COVER)
        assert run.stdout.count(f"list {LIST} is muted") == 3 and s.intake.datas == 0

        s.lists = f'[post.lists."{LIST}"]\nsend = true\nmax-per-series = 2\nmax-per-hour = 1\n'
        s.write_config()
        run = s.patchbot("review", "--send", V1_COVER)
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("capped <patchbot.") == 1, run.stdout
        assert run.stdout.count("sent <patchbot.") == 1
        assert run.stdout.count("deferred <patchbot.") == 1
        assert s.intake.datas == 1 and len(s.bot_replies(V1_COVER)) == 1


def test_dropped_connection_keeps_the_reply_queued_then_sends_it_once(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s, dropping_smtp() as flaky:
        s.write_config(smtp_port=flaky)
        run = s.patchbot("review", "--send", V1_COVER)
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
        assert "kept in the ledger queue" in run.stderr and "connection lost" in run.stderr
        assert set(s.ledger_states().values()) == {"queued"}
        assert s.bot_replies(V1_COVER) == []
        # the connection broke during DATA: the next try first waits for the archive
        s.write_config()
        early = s.patchbot("post", "--queue")
        assert early.returncode == 2 and "waiting" in early.stdout and s.intake.datas == 0
        retry = s.patchbot("post", "--queue", "--settle", "0")
        assert retry.returncode == 0, retry.stderr
        assert retry.stdout.count("sent <patchbot.") == 3
        assert set(s.ledger_states().values()) == {"sent"}
        assert Counter(s.intake.received) == Counter({m: 1 for m in s.intake.received})
        assert len(s.bot_replies(V1_COVER)) == 3


def test_bad_input_gives_one_line_errors(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s:
        missing = s.patchbot("review", "no-such-message@example.org")
        assert missing.returncode == 2
        assert missing.stderr.startswith("patchbot: error: <no-such-message@example.org> not found")
        dead = s.patchbot("review", "--archive", f"http://127.0.0.1:{free_port()}/coco", V1_COVER)
        assert dead.returncode == 2 and "ConnectionError" in dead.stderr
        assert dead.stderr.count("\n") == 1
        broken = s.work / "broken.mbox"
        broken.write_bytes(
            b"From: " + SENDER.encode() + b"\nTo: " + LIST.encode() + b"\n"
            b"Subject: Re: [PATCH 1/2] x\nMessage-ID: <a@example.org>\n"
            b"In-Reply-To: <" + V1_PATCH1.encode() + b">\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\n'
            b"no closing boundary\n"
        )
        post = s.patchbot("post", "--send", str(broken))
        assert post.returncode == 2 and "broken MIME" in post.stderr, post.stderr
        assert "nothing sent" in post.stderr and s.intake.datas == 0
        nosender = s.patchbot("review", "--send", V1_COVER, "--from", "not an address")
        assert nosender.returncode == 2 and "mail address" in nosender.stderr
        assert s.intake.datas == 0
