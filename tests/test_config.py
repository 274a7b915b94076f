from __future__ import annotations

import pytest
from test_engine_support import CALL_RULE, write_rules

from patchbot.api import Severity
from patchbot.config import check_against_rules, find_config, load_config
from patchbot.engine import load_rules
from patchbot.errors import ConfigError


@pytest.fixture
def demo_rules(tmp_path):
    return load_rules([write_rules(tmp_path / "r", demo_call=CALL_RULE)], include_bundled=False)


def test_full_config_parses(tmp_path):
    cfg = tmp_path / ".patchbot.toml"
    cfg.write_text(
        'fail-on = "error"\nformat = "sarif"\nrule-dirs = ["extra"]\nbaseline = "b.json"\n'
        '[rules.demo-call]\nenabled = true\nseverity = "info"\ncall = "grab"\n'
        '[[ignore]]\nrule = "demo-call"\npaths = ["vendor/*"]\n'
    )
    config = load_config(cfg)
    assert (config.fail_on, config.format) == ("error", "sarif")
    assert config.rule_dirs == [(tmp_path / "extra").resolve()]
    assert config.baseline == (tmp_path / "b.json").resolve()
    settings = config.rules["demo-call"]
    assert (settings.enabled, settings.severity, settings.options) == (
        True,
        Severity.INFO,
        {"call": "grab"},
    )
    assert config.ignores[0].paths == ("vendor/*",)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('fail_on = "error"\n', "'fail_on'"),
        ('[rules.demo-call]\ncall = "x"\nsevrity = "error"\n', "'sevrity'"),
        ('[[ignore]]\nrule = "demo-call"\npaths = ["a"]\nwhy = "x"\n', "'why'"),
        ("[rules.no-such]\nenabled = false\n", "unknown rule 'no-such'"),
        ("[rules.demo-call]\ncall = 3\n", "must be a str"),
        ('[rules.demo-call]\nseverity = "fatal"\n', "unknown severity"),
        ('fail-on = "sometimes"\n', "fail-on must be one of"),
        ('[[ignore]]\nrule = "nope"\npaths = ["a"]\n', "unknown rule 'nope'"),
        ("this is = = not toml\n", "invalid TOML"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path, demo_rules, text, needle):
    cfg = tmp_path / ".patchbot.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        check_against_rules(load_config(cfg), demo_rules)
    assert needle in str(info.value)
    assert str(cfg) in str(info.value)
    assert info.value.exit_code == 2


def test_search_upwards_and_pyproject(tmp_path):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(deep) is None  # a pyproject without [tool.patchbot] is not ours
    (tmp_path / "pyproject.toml").write_text('[tool.patchbot]\nfail-on = "info"\n')
    assert find_config(deep) == tmp_path / "pyproject.toml"
    assert load_config(cwd=deep).fail_on == "info"
    (tmp_path / "a" / ".patchbot.toml").write_text('format = "json"\n')
    config = load_config(cwd=deep)
    assert (config.format, config.fail_on) == ("json", "warning")


def test_unknown_key_in_pyproject_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.patchbot]\nformats = "json"\n')
    with pytest.raises(ConfigError, match=r"pyproject\.toml: unknown key 'formats'"):
        load_config(cwd=tmp_path)


def test_cli_reports_config_error_with_exit_2(tmp_path, monkeypatch, run_cli):
    (tmp_path / ".patchbot.toml").write_text("[rules.no-such-rule]\nenabled = false\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("lint", "--file", "x.c")
    assert code == 2
    assert "no-such-rule" in err and ".patchbot.toml" in err
