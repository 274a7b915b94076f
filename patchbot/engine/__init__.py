"""The lint engine: load rules/, select them, run them, keep what a patch introduces,
apply suppressions and baselines.

Typical use::

    rules = load_rules(config.rule_dirs)
    engine = Engine(select_rules(rules, config), config)
    result = engine.lint_series(series, source_files)   # or engine.lint_files(files)
"""

from patchbot.engine.loader import LoadedRule, RuleLoadError, load_rule_file, load_rules, resolve_id
from patchbot.engine.runner import Engine, LintResult, SourcesFor
from patchbot.engine.selection import ActiveRule, select_rules
from patchbot.engine.suppress import read_baseline, write_baseline

__all__ = [
    "ActiveRule",
    "Engine",
    "LintResult",
    "LoadedRule",
    "RuleLoadError",
    "SourcesFor",
    "load_rule_file",
    "load_rules",
    "read_baseline",
    "resolve_id",
    "select_rules",
    "write_baseline",
]
