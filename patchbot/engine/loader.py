"""Discover and load rule modules from rules/ (and extra directories) by path.

Rule modules are loaded with importlib under the synthetic package name
``patchbot_rules`` so that nothing called ``rules`` is ever importable.  A module that
cannot be imported or does not follow the convention is an internal error naming the
file: a silently skipped rule would look like a clean patch.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from patchbot.api import SCOPES, Context, Finding, Rule, Severity
from patchbot.errors import PatchbotError
from patchbot.resources import rules_dir

RULE_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
CONFIDENCES = ("high", "heuristic")
MODULE_PREFIX = "patchbot_rules"


class RuleLoadError(PatchbotError):
    """A rule module is broken; exit code 3 (internal error), naming the file."""


@dataclass(frozen=True)
class LoadedRule:
    rule: Rule
    check: Callable[[Context], Iterable[Finding]]
    path: Path
    doc: str  # the module docstring: the rule's documentation

    @property
    def id(self) -> str:
        return self.rule.id


# path -> (mtime_ns, LoadedRule): tests and the bench build many engines per process
_CACHE: dict[Path, tuple[int, LoadedRule]] = {}


def rule_files(dirs: Sequence[Path]) -> list[Path]:
    """Every rule module in ``dirs``, in a stable order; files starting with _ are helpers."""
    files: list[Path] = []
    for directory in dirs:
        if not directory.is_dir():
            raise RuleLoadError(f"rule directory {directory} does not exist")
        files.extend(p for p in sorted(directory.glob("*.py")) if not p.name.startswith("_"))
    return files


def _module_name(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    name = f"{MODULE_PREFIX}.{stem}"
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "") != path:
        # the same stem in two rule directories: keep both importable
        name = f"{MODULE_PREFIX}.{stem}_{abs(hash(str(path.parent))):x}"
    return name


def _import(path: Path) -> ModuleType:
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuleLoadError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    # registered before exec so dataclasses and typing in the module can find it
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise RuleLoadError(
            f"{path}: rule module failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _validate(path: Path, module: ModuleType) -> LoadedRule:
    rule = getattr(module, "RULE", None)
    if not isinstance(rule, Rule):
        raise RuleLoadError(f"{path}: no RULE = Rule(...) defined")
    check = getattr(module, "check", None)
    if not callable(check):
        raise RuleLoadError(f"{path}: no check(ctx) function defined")
    if not RULE_ID_RE.match(rule.id):
        raise RuleLoadError(f"{path}: rule id {rule.id!r} is not kebab-case")
    if not isinstance(rule.severity, Severity):
        raise RuleLoadError(f"{path}: rule {rule.id}: severity must be a Severity")
    if rule.scope not in SCOPES:
        raise RuleLoadError(f"{path}: rule {rule.id}: scope {rule.scope!r} is not one of {SCOPES}")
    if rule.confidence not in CONFIDENCES:
        raise RuleLoadError(f"{path}: rule {rule.id}: confidence must be high or heuristic")
    if not rule.summary or "\n" in rule.summary:
        raise RuleLoadError(f"{path}: rule {rule.id}: summary must be one non-empty line")
    for alias in rule.aliases:
        if not RULE_ID_RE.match(alias):
            raise RuleLoadError(f"{path}: rule {rule.id}: alias {alias!r} is not kebab-case")
    return LoadedRule(rule=rule, check=check, path=path, doc=module.__doc__ or "")


def load_rule_file(path: Path) -> LoadedRule:
    path = path.resolve()
    mtime = path.stat().st_mtime_ns
    cached = _CACHE.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    loaded = _validate(path, _import(path))
    _CACHE[path] = (mtime, loaded)
    return loaded


def load_rules(
    extra_dirs: Sequence[Path] = (), *, include_bundled: bool = True
) -> list[LoadedRule]:
    """Load the bundled rules plus ``extra_dirs``; ids and aliases must be unique."""
    dirs = ([rules_dir()] if include_bundled else []) + list(extra_dirs)
    loaded = [load_rule_file(p) for p in rule_files(dirs)]
    owner: dict[str, Path] = {}
    for item in loaded:
        for name in (item.rule.id, *item.rule.aliases):
            if name in owner:
                raise RuleLoadError(
                    f"{item.path}: rule id or alias {name!r} is already used by {owner[name]}"
                )
            owner[name] = item.path
    return sorted(loaded, key=lambda r: r.id)


def resolve_id(rules: Iterable[LoadedRule], name: str) -> LoadedRule | None:
    """The rule called ``name`` by id or alias."""
    for item in rules:
        if name == item.rule.id or name in item.rule.aliases:
            return item
    return None
