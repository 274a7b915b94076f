"""The README stays true: its rules table, its two commands and its tour."""

from __future__ import annotations

import re

from conftest import REPO

from patchbot.engine import load_rules
from patchbot.ruledoc import refresh_readme

README = (REPO / "README.md").read_text()


def test_rules_table_matches_the_rule_docstrings():
    assert refresh_readme(README, load_rules()) == README, (
        "README rules table is stale: run 'patchbot rules doc'"
    )


def test_every_rule_is_in_the_readme_table():
    for rule in load_rules():
        assert f"[{rule.id}](docs/RULES.md#{rule.id})" in README


def test_exactly_two_setup_commands_and_ci_runs_the_test_one():
    block = re.search(r"## Two commands\n.*?```sh\n(.*?)```", README, re.S)
    assert block, "README lost its 'Two commands' block"
    commands = [ln.split("#")[0].strip() for ln in block.group(1).splitlines() if ln.strip()]
    assert commands == ["bash scripts/tour.sh", "bash scripts/test.sh"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


def test_tour_section_holds_real_output():
    tour = README.split("<!-- tour:begin -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    assert "TOUR_OUTPUT" not in tour
    # the tour lints the example and boots the model: both commands and findings appear
    assert "$ patchbot lint" in tour and "$ patchbot boot" in tour
    assert "[leak-on-failure]" in tour and "[unaccepted-to-buddy]" in tour
