"""A whole mailing-list site on loopback for the posting and bot tests.

A real public-inbox inbox seeded with tests/fixtures/post/, served by
public-inbox-httpd; a real aiosmtpd intake that archives each message through
public-inbox-mda; a working directory with a .patchbot.toml that points patchbot at
both, and the command line run as a child process with HOME in tmp (no git config of
the machine leaks in).
"""

from __future__ import annotations

import gzip
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from archive_helpers import LIST, Inbox
from conftest import FIXTURES
from smtp_helpers import Intake, smtp_intake

POST = FIXTURES / "post"
V1_COVER = "cover.1796000000.git.dana@example.org"
V1_PATCH1 = "20261201100001.1.dana@example.org"
V1_PATCH2 = "20261201100002.2.dana@example.org"
V2_COVER = "cover.1796100000.git.dana@example.org"
V2_PATCH1 = "20261202100001.1.dana@example.org"
V2_PATCH2 = "20261202100002.2.dana@example.org"
SENDER = "patchbot <bot@example.org>"


def fixture_mails(version: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(POST.glob(f"{version}-*.eml"))]


@dataclass
class Site:
    root: Path
    inbox: Inbox
    base: str
    intake: Intake
    smtp_port: int
    work: Path
    lists: str = f'[post.lists."{LIST}"]\nsend = true\n'
    extra: str = ""
    stack: ExitStack = field(default_factory=ExitStack)

    def write_config(self, *, smtp_port: int | None = None) -> None:
        port = smtp_port or self.smtp_port
        # the config names an SMTP server, which a found file may do only from a directory
        # the user trusts (patchbot.config.SMTP_ROUTE_KEYS)
        trusted = self.work / "xdg" / "patchbot" / "trusted"
        trusted.parent.mkdir(parents=True, exist_ok=True)
        trusted.write_text(f"{self.work}\n")
        (self.work / ".patchbot.toml").write_text(
            f'archive = "{self.base}"\n\n[post]\nfrom = "{SENDER}"\n'
            f'smtpServer = "127.0.0.1"\nsmtpServerPort = {port}\ntimeout = 20\n'
            f'ledger = "ledger.sqlite"\n{self.extra}\n{self.lists}'
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.work),
            "XDG_CONFIG_HOME": str(self.work / "xdg"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATCHBOT_CACHE": str(self.root / "cache"),
        }

    def patchbot(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "patchbot", *args],
            cwd=self.work,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "patchbot", *args],
            cwd=self.work,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def seed(self, version: str) -> None:
        for mail in fixture_mails(version):
            ok, why = self.inbox.deliver(mail)
            assert ok, why

    def thread(self, message_id: str) -> list[tuple[str, str]]:
        """(Message-ID, In-Reply-To) of every message in the archived thread, as served."""
        resp = requests.get(f"{self.base}/{message_id}/t.mbox.gz", timeout=30)
        assert resp.status_code == 200, resp.status_code
        text = gzip.decompress(resp.content).decode("utf-8", "replace")
        out = []
        for chunk in re.split(r"^From mboxrd@z .*$", text, flags=re.MULTILINE):
            head = chunk.strip("\n").split("\n\n", 1)[0]
            unfolded = re.sub(r"\n[ \t]+", " ", head)
            mid = re.search(r"^Message-ID:\s*(<[^>]+>)", unfolded, re.MULTILINE | re.IGNORECASE)
            irt = re.search(r"^In-Reply-To:\s*(<[^>]+>)", unfolded, re.MULTILINE | re.IGNORECASE)
            if mid:
                out.append((mid.group(1), irt.group(1) if irt else ""))
        return out

    def bot_replies(self, message_id: str) -> list[tuple[str, str]]:
        return [(m, r) for m, r in self.thread(message_id) if m.startswith("<patchbot.")]

    def ledger_states(self) -> dict[str, str]:
        with sqlite3.connect(self.work / "ledger.sqlite") as db:
            return dict(db.execute("SELECT message_id, state FROM replies"))


@contextmanager
def site(root: Path, *seed: str, **intake_switches: object) -> Iterator[Site]:
    inbox = Inbox(root / "pi")
    for version in seed:
        for mail in fixture_mails(version):
            ok, why = inbox.deliver(mail)
            assert ok, why
    with ExitStack() as stack:
        base = stack.enter_context(inbox.serve())
        intake, port = stack.enter_context(smtp_intake(inbox, **intake_switches))
        work = root / "work"
        work.mkdir()
        made = Site(root, inbox, base, intake, port, work, stack=stack)
        made.write_config()
        yield made
