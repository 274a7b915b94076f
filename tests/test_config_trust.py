"""Config that can run code is honoured only from --config or a trusted directory (issue 15).

A checkout's own .patchbot.toml (or pyproject.toml [tool.patchbot]) found by searching
upwards must not make `patchbot lint` import its Python (rule-dirs) or render its
templates (template-dir: jinja2 reaches Python).  Each hostile checkout here carries a
rule module that writes a marker file when imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbot.config import load_config, trusted_file
from patchbot.errors import ConfigError

HOSTILE_RULE = """
from pathlib import Path
Path({marker!r}).write_text("imported")
from patchbot.api import Rule, Severity
RULE = Rule(id="hostile", severity=Severity.INFO, scope="file", summary="runs on import")


def check(ctx):
    return []
"""


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's own config directory, empty (nothing trusted yet)."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """An untrusted checkout with a rule directory that leaves a marker when imported."""
    root = tmp_path / "checkout"
    (root / "evil-rules").mkdir(parents=True)
    marker = tmp_path / "marker"
    (root / "evil-rules" / "hostile.py").write_text(HOSTILE_RULE.format(marker=str(marker)))
    (root / "drivers").mkdir()
    (root / "drivers" / "x.c").write_text("int x;\n")
    return root


def _marker(checkout: Path) -> Path:
    return checkout.parent / "marker"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".patchbot.toml", 'rule-dirs = ["evil-rules"]\n'),
        ("pyproject.toml", '[tool.patchbot]\nrule-dirs = ["evil-rules"]\n'),
    ],
)
def test_found_rule_dirs_are_refused_and_never_imported(
    checkout, user_config, monkeypatch, run_cli, name, text
):
    (checkout / name).write_text(text)
    monkeypatch.chdir(checkout / "drivers")  # found by searching upwards
    code, out, err = run_cli("lint", "--file", "x.c")
    assert code == 2, err
    assert not _marker(checkout).exists(), "the checkout's rule module was imported"
    assert out == ""
    (line,) = err.strip().splitlines()
    assert str(checkout / name) in line and "rule-dirs" in line
    # it says how to trust it: the trust file and the --config way
    assert str(trusted_file()) in line and "--config" in line


def test_found_template_dir_is_refused(checkout, user_config, monkeypatch, run_cli):
    own = checkout / "tpl" / "virtio-mem-coco"
    own.mkdir(parents=True)
    (own / "convert_range.c.j2").write_text("/* from the checkout */ int {{ prefix }}_x;\n")
    (checkout / ".patchbot.toml").write_text('template-dir = "tpl"\n')
    monkeypatch.chdir(checkout)
    code, out, err = run_cli("generate", "helper", "convert-range", "--print")
    assert code == 2, out
    assert "from the checkout" not in out
    assert "template-dir" in err and len(err.strip().splitlines()) == 1


def test_other_keys_of_a_found_file_still_work(checkout, user_config, monkeypatch):
    (checkout / ".patchbot.toml").write_text('fail-on = "error"\nformat = "json"\n')
    monkeypatch.chdir(checkout)
    config = load_config()
    assert (config.fail_on, config.format) == ("error", "json")


def test_explicit_config_is_honoured(checkout, user_config, monkeypatch, run_cli):
    (checkout / ".patchbot.toml").write_text('rule-dirs = ["evil-rules"]\n')
    monkeypatch.chdir(checkout / "drivers")
    code, _, err = run_cli("lint", "--config", str(checkout / ".patchbot.toml"), "--file", "x.c")
    assert code == 0, err
    assert _marker(checkout).read_text() == "imported"


@pytest.mark.parametrize(
    "entry",
    ["{checkout}", "{checkout}/", "{parent}/*", "*", "# a comment\n\n{checkout}"],
    ids=["exact", "slash", "below", "all", "comment"],
)
def test_a_trusted_directory_is_honoured(checkout, user_config, monkeypatch, run_cli, entry):
    (checkout / ".patchbot.toml").write_text('rule-dirs = ["evil-rules"]\n')
    trust = trusted_file()
    trust.parent.mkdir(parents=True)
    trust.write_text(entry.format(checkout=checkout, parent=checkout.parent) + "\n")
    monkeypatch.chdir(checkout / "drivers")
    code, _, err = run_cli("lint", "--file", "x.c")
    assert code == 0, err
    assert _marker(checkout).read_text() == "imported"


def test_trusting_another_directory_does_not_trust_this_one(checkout, user_config, monkeypatch):
    (checkout / ".patchbot.toml").write_text('rule-dirs = ["evil-rules"]\n')
    trust = trusted_file()
    trust.parent.mkdir(parents=True)
    # a sibling, a directory below the checkout, and a prefix that is not a parent
    trust.write_text(f"{checkout}-other\n{checkout}/drivers\n{checkout}-x/*\n")
    monkeypatch.chdir(checkout)
    with pytest.raises(ConfigError, match="is not a trusted directory"):
        load_config()


def test_trust_file_location_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert trusted_file() == tmp_path / "cfg" / "patchbot" / "trusted"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert trusted_file() == tmp_path / "home" / ".config" / "patchbot" / "trusted"


def test_a_found_smtp_server_is_refused_where_the_directory_is_untrusted(
    user_config: Path, tmp_path: Path
) -> None:
    # git config holds sendemail.smtpPass; a checkout must not point it at its own server
    work = tmp_path / "untrusted"
    work.mkdir()
    (work / ".patchbot.toml").write_text(
        '[post]\nfrom = "Bot <bot@example.org>"\nsmtpServer = "mail.attacker.example"\n'
    )
    with pytest.raises(ConfigError, match=r"post\.smtpServer.*SMTP login.*not a trusted"):
        load_config(cwd=work)
    # the other [post] keys need no trust, and a trusted directory may name a server
    (work / ".patchbot.toml").write_text('[post]\nfrom = "Bot <bot@example.org>"\n')
    assert load_config(cwd=work).post["from"] == "Bot <bot@example.org>"
    (work / ".patchbot.toml").write_text('[post]\nsmtpServer = "smtp.example.org"\n')
    trusted_file().parent.mkdir(parents=True)
    trusted_file().write_text(f"{work}\n")
    assert load_config(cwd=work).post["smtpServer"] == "smtp.example.org"


def test_a_found_file_cannot_turn_the_bots_sandbox_off(user_config: Path, tmp_path: Path) -> None:
    work = tmp_path / "untrusted"
    work.mkdir()
    (work / ".patchbot.toml").write_text("[post]\nrun-patches-without-sandbox = true\n")
    with pytest.raises(ConfigError, match=r"outside the sandbox.*not a trusted directory"):
        load_config(cwd=work)
