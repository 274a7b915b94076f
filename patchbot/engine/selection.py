"""Which rules run, with which severity and options: config plus --enable/--disable/--select."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from patchbot.config import Config, check_against_rules
from patchbot.engine.loader import LoadedRule, resolve_id
from patchbot.errors import InputError


@dataclass(frozen=True)
class ActiveRule:
    loaded: LoadedRule
    options: dict[str, Any]  # RULE.options defaults, config overrides, "severity" if set

    @property
    def id(self) -> str:
        return self.loaded.rule.id

    @property
    def names(self) -> set[str]:
        return {self.loaded.rule.id, *self.loaded.rule.aliases}


def _resolve_all(rules: Sequence[LoadedRule], names: Sequence[str], flag: str) -> set[str]:
    ids: set[str] = set()
    for name in names:
        item = resolve_id(rules, name)
        if item is None:
            raise InputError(f"{flag} {name}: no such rule (see 'patchbot rules list')")
        ids.add(item.rule.id)
    return ids


def select_rules(
    rules: Sequence[LoadedRule],
    config: Config,
    *,
    enable: Sequence[str] = (),
    disable: Sequence[str] = (),
    select: Sequence[str] = (),
    audit: bool = False,
) -> list[ActiveRule]:
    """The rules to run.  --select narrows to a list, --enable and --disable win last.
    In an ``audit`` (--file/--paths) the patch_review_only rules are off unless named."""
    check_against_rules(config, rules)
    settings = {}
    for name, value in config.rules.items():
        item = resolve_id(rules, name)
        if item is not None:
            settings[item.rule.id] = value
    selected = _resolve_all(rules, select, "--select")
    enabled = _resolve_all(rules, enable, "--enable")
    disabled = _resolve_all(rules, disable, "--disable")
    active: list[ActiveRule] = []
    for item in rules:
        rule_id = item.rule.id
        conf = settings.get(rule_id)
        on = True if conf is None or conf.enabled is None else conf.enabled
        if audit and item.rule.patch_review_only and not (conf and conf.enabled):
            on = False
        if selected:
            on = rule_id in selected
        if rule_id in enabled:
            on = True
        if rule_id in disabled:
            on = False
        if not on:
            continue
        options = dict(item.rule.options)
        if conf is not None:
            options.update(conf.options)
            if conf.severity is not None:
                options["severity"] = conf.severity
        active.append(ActiveRule(item, options))
    return active
