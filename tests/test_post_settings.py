"""Posting settings: git's sendemail.* as the base, [post] on top, clear errors.

The first test sets sendemail.* with the real git in a scratch HOME and lets
`patchbot review --send` deliver with nothing but that, like git send-email would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from archive_helpers import LIST, free_port
from bot_site import V1_COVER, site

from patchbot.config import Config
from patchbot.errors import ConfigError
from patchbot.post.settings import git_sendemail, load_post_settings


def _git_config(home: Path, key: str, value: str) -> None:
    subprocess.run(
        ["git", "config", "--global", key, value],
        env={"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"},
        check=True,
    )


@pytest.mark.archive
@pytest.mark.slow
def test_review_sends_with_only_git_sendemail_config(tmp_path: Path) -> None:
    with site(tmp_path, "v1") as s:
        # the config names the list and the ledger; server, port and sender come from git
        (s.work / ".patchbot.toml").write_text(
            f'archive = "{s.base}"\n\n[post]\nledger = "ledger.sqlite"\n\n'
            f'[post.lists."{LIST}"]\nsend = true\n'
        )
        _git_config(s.work, "sendemail.smtpServer", "127.0.0.1")
        _git_config(s.work, "sendemail.smtpServerPort", str(free_port()))  # nobody there
        _git_config(s.work, "sendemail.from", "Review Bot <review-bot@example.net>")
        _git_config(s.work, "sendemail.envelopeSender", "auto")
        dead = s.patchbot("review", "--send", V1_COVER)
        assert dead.returncode == 2 and "cannot connect" in dead.stderr, dead.stderr
        assert set(s.ledger_states().values()) == {"queued"}  # refused before DATA: kept
        _git_config(s.work, "sendemail.smtpServerPort", str(s.smtp_port))
        run = s.patchbot("review", "--send", V1_COVER)
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("sent <patchbot.") == 3
        assert all(m.endswith("@example.net>") for m in s.intake.received)  # From's domain
        assert s.intake.mail_from == ["review-bot@example.net"] * 3  # envelopeSender = auto
        assert set(s.ledger_states().values()) == {"sent"}


def test_git_sendemail_reads_the_keys_as_git_spells_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    _git_config(tmp_path, "sendemail.smtpserver", "smtp.example.net")  # git ignores case
    _git_config(tmp_path, "sendemail.smtpEncryption", "tls")
    _git_config(tmp_path, "sendemail.smtpUser", "dana")
    _git_config(tmp_path, "sendemail.annotate", "yes")  # not an SMTP key: ignored
    found = git_sendemail(tmp_path)
    assert found == {"smtpServer": "smtp.example.net", "smtpEncryption": "tls", "smtpUser": "dana"}


def test_post_table_wins_over_git() -> None:
    git = {"smtpServer": "smtp.example.net", "smtpServerPort": "25", "from": "a <a@example.org>"}
    config = Config(post={"smtpServerPort": 2525, "from": "b <b@example.org>", "timeout": 5})
    got = load_post_settings(config, git=git)
    assert (got.smtp.server, got.smtp.port, got.smtp.timeout) == ("smtp.example.net", 2525, 5)
    assert got.sender == "b <b@example.org>" and got.send is False and got.lists == {}
    ssl = load_post_settings(Config(), git={"smtpEncryption": "ssl"})
    assert ssl.smtp.effective_port == 465 and ssl.sender is None


def test_list_policy_defaults_and_keys() -> None:
    table = {"lists": {"CoCo@Example.org": {"send": "yes", "max-per-hour": 3}}}
    got = load_post_settings(Config(post=table), git={})
    policy = got.lists["coco@example.org"]
    assert (policy.send, policy.max_per_series, policy.max_per_hour) == (True, 10, 3)
    muted = load_post_settings(Config(post={"lists": {"x@example.org": {}}}), git={})
    assert muted.lists["x@example.org"].send is False  # listed is not opted in


@pytest.mark.parametrize(
    ("post", "git", "message"),
    [
        ({"smtpserver": "x"}, {}, "unknown key post.'smtpserver'"),
        ({}, {"smtpServer": "/usr/sbin/sendmail"}, "is a sendmail program"),
        ({"smtpEncryption": "starttls"}, {}, "smtpEncryption must be one of none, ssl, tls"),
        ({"smtpServerPort": "twenty-five"}, {}, "smtpServerPort must be a whole number"),
        ({"from": "nobody"}, {}, "from must be a mail address"),
        ({"lists": {"l@example.org": {"cap": 1}}}, {}, "unknown key post.lists"),
        ({"lists": {"l@example.org": {"max-per-hour": -1}}}, {}, "must not be negative"),
        ({"lists": {"l@example.org": {"send": "maybe"}}}, {}, "send must be true or false"),
        ({"patchwork": {"url": "patchwork.example.org"}}, {}, "post.patchwork.url must be"),
        ({"ledger": 3}, {}, "post.ledger must be a file name"),
    ],
)
def test_bad_settings_are_config_errors(post: dict, git: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", "'")):
        load_post_settings(Config(post=post), git=git)
