"""The engine's per-rule CPU budget: a rule that never ends costs one internal/timeout
finding naming the rule and the file, and every other rule still reports."""

from __future__ import annotations

import threading

from test_engine import engine_for
from test_engine_support import CALL_RULE

from patchbot.api import SourceFile
from patchbot.config import Config
from patchbot.engine import Engine
from patchbot.engine.runner import TIMEOUT_RULE
from patchbot.errors import EXIT_FINDINGS

SPIN_RULE = '''
"""Never ends, and swallows every Exception on the way."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-spin", severity=Severity.ERROR, scope="file", summary="spins")


def check(ctx):
    while True:
        try:
            sum(range(1000))
        except Exception:
            pass
    yield
'''


def _budgeted(tmp_path, budget: float) -> Engine:
    engine = engine_for(tmp_path, demo_call=CALL_RULE, demo_spin=SPIN_RULE)
    return Engine(engine.active, Config(), rule_budget=budget)


def test_spinning_rule_times_out_and_the_others_report(tmp_path):
    engine = _budgeted(tmp_path, 0.3)
    result = engine.lint_files([SourceFile("a.c", "int x = frob(1);\n")])
    timeouts = [f for f in result.findings if f.rule == TIMEOUT_RULE]
    assert len(timeouts) == 1
    assert "demo-spin" in timeouts[0].message and timeouts[0].path == "a.c"
    assert [f.rule for f in result.findings if f.rule != TIMEOUT_RULE] == ["demo-call"]
    assert not result.errors
    assert result.exit_code("warning") == EXIT_FINDINGS


def test_budget_interrupts_a_rule_outside_the_main_thread(tmp_path):
    engine = _budgeted(tmp_path, 0.3)
    out = {}

    def work() -> None:
        out["result"] = engine.lint_files([SourceFile("b.c", "frob(2);\n")])

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    rules = sorted(f.rule for f in out["result"].findings)
    assert rules == ["demo-call", TIMEOUT_RULE]


def test_budget_is_configurable(tmp_path):
    from patchbot.config import parse_table

    config = parse_table({"rule-time-budget": 2.5}, tmp_path / ".patchbot.toml")
    assert Engine([], config).rule_budget == 2.5
