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


def _setup_paragraph() -> str:
    return README.split("## Two commands", 1)[1].split("## The tour", 1)[0]


def test_first_kernel_build_time_agrees_with_the_benchmark_table():
    said = re.search(r"builds a kernel\s+from scratch, about (\d+) minutes", _setup_paragraph())
    assert said, "the set-up paragraph no longer says how long the first build takes"
    row = re.search(r"^\| `validate --kernel`, cold:.*?\| (\d+(?:\.\d+)?) min", README, re.M)
    assert row, "the benchmark table lost its cold-build row"
    assert abs(int(said[1]) - float(row[1])) < 1, (said[0], row[0])


def test_setup_says_what_the_cache_takes_and_how_to_get_patchbot_on_path():
    setup = " ".join(_setup_paragraph().split())
    assert re.search(r"cache takes about \d+(\.\d+)? GB", setup)
    assert ". .venv/bin/activate" in setup and ".venv/bin/patchbot" in setup


def test_tour_commands_are_the_ones_tour_sh_runs():
    tour = README.split("<!-- tour:begin -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    shown = [ln[2:] for ln in tour.splitlines() if ln.startswith("$ ")]
    script = (REPO / "scripts" / "tour.sh").read_text()
    echoed = re.findall(r'^echo "\\\$ (.*)"$', script, re.M)
    ran = [ln.strip() for ln in script.splitlines() if ln.startswith("patchbot ")]
    assert len(shown) == len(echoed) == len(ran) == 2
    for readme_line, echo, run in zip(shown, echoed, ran, strict=True):
        assert echo.replace('"', "") == run.replace('"', "")  # it prints what it runs
        assert readme_line.split()[:2] == echo.split()[:2]
    # and `patchbot` there is the checkout's venv, not whatever is on PATH
    assert 'PATH="$(dirname "$python"):$PATH"' in script
