"""Hostile mail against `review`, `post` and `watch`: a REAL public-inbox archive and a
real aiosmtpd intake (tests/bot_site.py).  Each test reproduces one defect of issue 16
(post and the bot) or issue 14 item 8; each failed before its fix."""

from __future__ import annotations

import email
import re
from collections import Counter
from email.policy import default
from pathlib import Path

import pytest
from archive_helpers import LIST
from bot_site import POST, SENDER, V1_COVER, V1_PATCH1, site

pytestmark = [pytest.mark.archive, pytest.mark.slow]

HOSTILE = "20261204100001.1.mallory@example.org"
WIDE = "20261204100002.1.mallory@example.org"
SENT_RE = re.compile(r"^patchbot: INFO: sent (<patchbot\.[^>]+>)", re.MULTILINE)


def single_patch(message_id: str, title: str, cc: str) -> bytes:
    """Our v1 patch 1 as a single patch of its own (no cover letter), with ``cc``."""
    text = (POST / "v1-0001-helpers.eml").read_text()
    _head, body = text.split("\n\n", 1)
    return (
        "From: Mallory Sender <mallory@example.org>\n"
        f"To: {LIST}\nCc: {cc}\nSubject: [PATCH] {title}\n"
        "Date: Fri, 04 Dec 2026 10:00:01 +0000\n"
        f"Message-Id: <{message_id}>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n" + body
    ).encode()


# an encoded CR/LF in the display name: decoded, it would start a new header line
# ("Evil\r\nBcc: victim@example.net", base64 so that no parser trips over the colon)
EVIL_CC = "=?utf-8?b?RXZpbA0KQmNjOiB2aWN0aW1AZXhhbXBsZS5uZXQ=?= <evil@example.org>"


def test_a_cc_name_with_an_encoded_newline_is_cleaned_and_the_bot_goes_on(
    tmp_path: Path,
) -> None:
    with site(tmp_path, "v1") as s:
        ok, why = s.inbox.deliver(single_patch(HOSTILE, "evil: share the page", EVIL_CC))
        assert ok, why
        shown = s.patchbot("review", HOSTILE)
        assert shown.returncode == 0, shown.stderr
        assert "Traceback" not in shown.stderr
        head = email.message_from_string(shown.stdout.split("\n", 1)[1], policy=default)
        assert head["Bcc"] is None, shown.stdout  # the name stayed a name
        cc = [a.addr_spec for a in head["Cc"].addresses]
        assert cc == [LIST, "evil@example.org"], shown.stdout
        assert head["Cc"].addresses[1].display_name == "Evil Bcc: victim@example.net"

        run = s.patchbot("watch", "--once", "--send", "--wait", "0")
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        sent = SENT_RE.findall(run.stderr)
        assert len(sent) == 4, run.stderr  # v1: 3 replies, the hostile single patch: 1
        assert Counter(s.intake.received) == Counter(sent)
        assert all("victim@example.net" not in rcpts for rcpts in s.intake.rcpts)
        assert len(s.bot_replies(HOSTILE)) == 1
        again = s.patchbot("watch", "--once", "--send", "--wait", "0")
        assert again.returncode == 0, again.stderr
        assert "reviewed" not in again.stderr and s.intake.datas == 4


def _reply(**headers: str) -> bytes:
    fields = {
        "From": SENDER,
        "To": f"Dana Author <dana@example.org>, {LIST}",
        "Subject": "Re: [PATCH 1/2] x",
        "Message-ID": "<patchbot.hand@example.org>",
        "In-Reply-To": f"<{V1_PATCH1}>",
        **headers,
    }
    head = "".join(f"{name}: {value}\n" for name, value in fields.items())
    return (head + "MIME-Version: 1.0\nContent-Type: text/plain\n\nA comment.\n").encode()


BAD_REPLIES = {
    "half-address": (_reply(To="a@"), "To"),
    "empty-message-id": (_reply(**{"Message-ID": "<>"}), "Message-ID"),
    "encoded-newline": (_reply(Cc=EVIL_CC), "Cc"),
    "empty-from": (_reply(From=""), "From"),
    "no-domain": (_reply(Cc="someone"), "Cc"),
}


def test_post_refuses_bad_addresses_and_ids_with_one_line_and_sends_nothing(
    tmp_path: Path,
) -> None:
    with site(tmp_path, "v1") as s:
        for kind, (data, header) in BAD_REPLIES.items():
            path = s.work / f"{kind}.mbox"
            path.write_bytes(data)
            run = s.patchbot("post", "--send", str(path))
            assert run.returncode == 2, (kind, run.returncode, run.stderr)
            assert run.stderr.count("\n") == 1, (kind, run.stderr)
            assert "Traceback" not in run.stderr and header in run.stderr, (kind, run.stderr)
            assert "nothing sent" in run.stderr, (kind, run.stderr)
            shown = s.patchbot("post", str(path))  # printing checks the same
            assert shown.returncode == 2, (kind, shown.stderr)
        assert s.intake.datas == 0 and not (s.work / "ledger.sqlite").exists()


def test_recipients_are_capped_and_the_list_and_author_come_first(tmp_path: Path) -> None:
    crowd = ", ".join(f"Person {n} <p{n}@example.net>" for n in range(40))
    with site(tmp_path) as s:
        ok, why = s.inbox.deliver(single_patch(WIDE, "wide: share the page", crowd))
        assert ok, why
        s.extra = "max-recipients = 5\n"
        s.write_config()
        run = s.patchbot("review", "--send", WIDE)
        assert run.returncode == 0, run.stderr
        assert len(s.intake.rcpts) == 1
        (rcpts,) = s.intake.rcpts
        assert len(rcpts) == 5, rcpts
        assert rcpts[:2] == ["mallory@example.org", LIST], rcpts
        assert rcpts[2:] == ["p0@example.net", "p1@example.net", "p2@example.net"]

        s.extra = ""  # the default cap holds too
        s.write_config()
        shown = s.patchbot("review", WIDE)
        head = shown.stdout.split("\n\n", 1)[0]
        cc = re.search(r"^Cc: (.*(?:\n .*)*)", head, re.MULTILINE)
        assert cc is not None
        assert cc.group(1).count("@") + 1 <= 10, head

        s.extra = "max-recipients = 0\n"
        s.write_config()
        bad = s.patchbot("review", WIDE)
        assert bad.returncode == 2 and "max-recipients" in bad.stderr


def test_review_reads_a_local_mbox_and_post_sends_what_it_prints(tmp_path: Path) -> None:
    series = tmp_path / "series.mbox"
    series.write_bytes(
        b"".join(
            b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + (POST / name).read_bytes() + b"\n"
            for name in ("v1-0000-cover.eml", "v1-0001-helpers.eml", "v1-0002-use.eml")
        )
    )
    with site(tmp_path, "v1") as s:
        # no archive anywhere: the local file is all review needs
        (s.work / ".patchbot.toml").write_text(
            f'[post]\nfrom = "{SENDER}"\nsmtpServer = "127.0.0.1"\n'
            f'smtpServerPort = {s.smtp_port}\nledger = "ledger.sqlite"\n\n{s.lists}'
        )
        run = s.patchbot("review", str(series))
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("\nMessage-ID: <patchbot.") == 3, run.stdout
        assert f"In-Reply-To: <{V1_COVER}>" in run.stdout
        assert "Cc: coco@example.org, Erin Reviewer <erin@example.org>" in run.stdout
        assert f"Reproduce locally:\n  patchbot lint {series}" in run.stdout
        # the same replies as from the archive: one Message-ID per reviewed message
        (s.work / "site.toml").write_text(
            f'archive = "{s.base}"\n' + (s.work / ".patchbot.toml").read_text()
        )
        archived = s.patchbot("review", "--config", "site.toml", V1_COVER)
        ids = sorted(re.findall(r"^Message-ID: (.*)$", run.stdout, re.MULTILINE))
        assert ids == sorted(re.findall(r"^Message-ID: (.*)$", archived.stdout, re.MULTILINE))
        (s.work / "replies.mbox").write_text(run.stdout)
        post = s.patchbot("post", "--send", "replies.mbox")
        assert post.returncode == 0, post.stderr
        assert post.stdout.count("sent <patchbot.") == 3 and s.intake.datas == 3

        # lint's review format is a draft to edit: post says what it lacks and what to use
        draft = s.patchbot("lint", "--format", "review", str(series))
        assert draft.returncode == 1, draft.stderr
        (s.work / "draft.mbox").write_text(draft.stdout)
        refused = s.patchbot("post", "--send", "draft.mbox")
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "patchbot review" in refused.stderr and "nothing sent" in refused.stderr
        assert s.intake.datas == 3
