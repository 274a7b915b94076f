"""Configuration: ``.patchbot.toml`` or ``[tool.patchbot]`` in pyproject.toml.

Searched from the current directory upwards (the first directory holding either file
wins; within one directory .patchbot.toml wins), or named with ``--config FILE``.

Keys::

    fail-on = "warning"            # error | warning | info | never
    format = "text"                # text | json | sarif | b4 | checkpatch | review
    rule-dirs = ["more-rules"]     # extra rule directories, relative to the file
    baseline = "patchbot-baseline.json"
    archive = "https://lore.kernel.org/linux-coco"   # for Message-IDs (lint, review, watch)
    rule-time-budget = 8.0         # CPU seconds one rule may spend on one file (0: no limit)

    template-dir = "my-templates"  # generate: overrides templates/ file by file
    [post]                         # replies: sender, SMTP, per-list policy (docs/POSTING.md)

    [rules.leak-on-failure]        # per rule: enabled, severity, and its own options
    enabled = false
    severity = "error"

    [[ignore]]                     # per-path ignores
    rule = "some-rule"
    paths = ["drivers/foo/*.c"]

Every unknown key is a ConfigError naming the key and the file: a typo must not
silently turn a rule off or on.

Trust (issue 15): ``rule-dirs`` makes patchbot import Python and ``template-dir`` makes
it render jinja2 templates (which reach Python), so a file that sets either is honoured
only when it was named with ``--config FILE`` or sits in a directory the user trusts,
listed in their own ``$XDG_CONFIG_HOME/patchbot/trusted`` (default
``~/.config/patchbot/trusted``), in the spirit of git's ``safe.directory``: one directory
per line; ``DIR/*`` trusts DIR and every directory below it; ``*`` trusts every
directory; ``#`` starts a comment.  A file found by searching upwards that sets one of
them and is not trusted is a ConfigError (exit 2) saying how to trust it: running
`patchbot lint` (or b4's check command) inside an untrusted checkout must not run the
checkout's code.  Its other keys need no trust.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchbot.api import Severity
from patchbot.errors import ConfigError

CONFIG_NAME = ".patchbot.toml"
PYPROJECT = "pyproject.toml"
FAIL_ON_CHOICES = ("error", "warning", "info", "never")
FORMATS = ("text", "json", "sarif", "b4", "checkpatch", "review")
TOP_KEYS = {
    "fail-on",
    "format",
    "rule-dirs",
    "baseline",
    "rules",
    "ignore",
    "archive",
    "post",
    "template-dir",
    "rule-time-budget",
}
# keys that make patchbot run code named by the file: honoured only from a trusted file
CODE_KEYS = ("rule-dirs", "template-dir")
# [post] keys that say where the SMTP login goes: a found file in an untrusted checkout
# could otherwise send the user's sendemail.smtpPass (from git config) to its own server
SMTP_ROUTE_KEYS = ("smtpServer", "smtpServerPort", "smtpEncryption", "smtpUser", "smtpPass")
# and the [post] key that lets `watch --validate` run mailed patches without the sandbox
SANDBOX_OFF_KEYS = ("run-patches-without-sandbox",)
RULE_RESERVED = {"enabled", "severity"}
IGNORE_KEYS = {"rule", "paths"}


@dataclass
class RuleSettings:
    enabled: bool | None = None  # None: not mentioned, the rule's default applies
    severity: Severity | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IgnoreEntry:
    rule: str
    paths: tuple[str, ...]


@dataclass
class Config:
    path: Path | None = None  # where it came from (None: defaults)
    fail_on: str = "warning"
    format: str = "text"
    rule_dirs: list[Path] = field(default_factory=list)
    baseline: Path | None = None
    rules: dict[str, RuleSettings] = field(default_factory=dict)
    ignores: list[IgnoreEntry] = field(default_factory=list)
    archive: str | None = None  # public-inbox base URL for Message-IDs (lint, review, watch)
    # [post]: sender, SMTP (git sendemail.* names), lists, ledger; checked by patchbot.post.settings
    post: dict[str, Any] = field(default_factory=dict)
    template_dir: Path | None = None  # generate: templates here win over the bundled ones
    rule_time_budget: float | None = None  # None: engine/budget.py's default

    def where(self) -> str:
        return str(self.path) if self.path else "configuration"


def fail_threshold(fail_on: str) -> Severity | None:
    """The lowest severity that fails the run, or None for --fail-on never."""
    if fail_on == "never":
        return None
    return Severity.parse(fail_on)


def _error(source: Path, message: str) -> ConfigError:
    return ConfigError(f"{source}: {message}")


def _reject_unknown(source: Path, table: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise _error(source, f"unknown key {where}{key!r}")


def _parse_rules(source: Path, table: Any) -> dict[str, RuleSettings]:
    if not isinstance(table, dict):
        raise _error(source, "'rules' must be a table of [rules.<id>] tables")
    parsed: dict[str, RuleSettings] = {}
    for rule_id, body in table.items():
        if not isinstance(body, dict):
            raise _error(source, f"[rules.{rule_id}] must be a table")
        settings = RuleSettings()
        for key, value in body.items():
            if key == "enabled":
                if not isinstance(value, bool):
                    raise _error(source, f"rules.{rule_id}.enabled must be true or false")
                settings.enabled = value
            elif key == "severity":
                try:
                    settings.severity = Severity.parse(str(value))
                except ValueError as exc:
                    raise _error(source, f"rules.{rule_id}.severity: {exc}") from None
            else:
                settings.options[key] = value  # checked against RULE.options later
        parsed[rule_id] = settings
    return parsed


def _parse_ignores(source: Path, value: Any) -> list[IgnoreEntry]:
    if not isinstance(value, list):
        raise _error(source, "'ignore' must be an array of tables ([[ignore]])")
    entries: list[IgnoreEntry] = []
    for item in value:
        if not isinstance(item, dict):
            raise _error(source, "each [[ignore]] entry must be a table")
        _reject_unknown(source, item, IGNORE_KEYS, "in [[ignore]]: ")
        rule = item.get("rule")
        paths = item.get("paths")
        if not isinstance(rule, str) or not rule:
            raise _error(source, '[[ignore]] needs rule = "<rule-id>"')
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise _error(source, f'[[ignore]] for {rule} needs paths = ["glob", ...]')
        entries.append(IgnoreEntry(rule, tuple(paths)))
    return entries


def parse_table(table: Mapping[str, Any], source: Path) -> Config:
    """Build a Config from an already-decoded TOML table (the file's or [tool.patchbot])."""
    _reject_unknown(source, table, TOP_KEYS, "")
    base = source.parent
    config = Config(path=source)
    if "fail-on" in table:
        if table["fail-on"] not in FAIL_ON_CHOICES:
            raise _error(source, f"fail-on must be one of {', '.join(FAIL_ON_CHOICES)}")
        config.fail_on = table["fail-on"]
    if "format" in table:
        if table["format"] not in FORMATS:
            raise _error(source, f"format must be one of {', '.join(FORMATS)}")
        config.format = table["format"]
    if "rule-dirs" in table:
        dirs = table["rule-dirs"]
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            raise _error(source, "rule-dirs must be an array of directory names")
        config.rule_dirs = [(base / d).resolve() for d in dirs]
    if "baseline" in table:
        if not isinstance(table["baseline"], str):
            raise _error(source, "baseline must be a file name")
        config.baseline = (base / table["baseline"]).resolve()
    if "rules" in table:
        config.rules = _parse_rules(source, table["rules"])
    if "ignore" in table:
        config.ignores = _parse_ignores(source, table["ignore"])
    if "archive" in table:
        if not isinstance(table["archive"], str) or not table["archive"].startswith(
            ("http://", "https://")
        ):
            raise _error(source, "archive must be an http(s) URL of a public-inbox inbox")
        config.archive = table["archive"].rstrip("/")
    if "post" in table:
        if not isinstance(table["post"], dict):
            raise _error(source, "'post' must be a table ([post])")
        config.post = dict(table["post"])
    if "template-dir" in table:
        if not isinstance(table["template-dir"], str):
            raise _error(source, "template-dir must be a directory name")
        config.template_dir = (base / table["template-dir"]).resolve()
    if "rule-time-budget" in table:
        budget = table["rule-time-budget"]
        if isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0:
            raise _error(source, "rule-time-budget must be a number of seconds (0: no limit)")
        config.rule_time_budget = float(budget)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _read_table(path: Path) -> dict[str, Any]:
    """The patchbot table of a .patchbot.toml (the whole file) or a pyproject.toml."""
    data = _read_toml(path)
    if path.name == PYPROJECT:
        table = data.get("tool", {}).get("patchbot")
        if table is None:
            raise ConfigError(f"{path}: no [tool.patchbot] table")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.patchbot] must be a table")
        return table
    return data


def load_file(path: Path) -> Config:
    """Load an explicit config file (a .patchbot.toml, or a pyproject.toml)."""
    return parse_table(_read_table(path), path)


def trusted_file() -> Path:
    """The user's list of trusted directories: $XDG_CONFIG_HOME/patchbot/trusted."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "patchbot" / "trusted"


def _trust_entries(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def is_trusted(directory: Path) -> bool:
    """Whether the user's trust file lists ``directory`` (compared after resolving)."""
    here = directory.resolve()
    for entry in _trust_entries(trusted_file()):
        if entry == "*":
            return True
        below = entry.endswith("/*")
        listed = Path(os.path.expanduser(entry.removesuffix("/*") if below else entry))
        if not listed.is_absolute():
            continue  # relative to what?  only absolute directories count
        listed = listed.resolve()
        if here == listed or (below and listed in here.parents):
            return True
    return False


def _check_trusted(path: Path, table: Mapping[str, Any]) -> None:
    """A found file may set CODE_KEYS, SMTP_ROUTE_KEYS and SANDBOX_OFF_KEYS only from a
    trusted directory."""
    post = table.get("post")
    keys = [key for key in CODE_KEYS if key in table]
    if isinstance(post, Mapping):
        keys += [f"post.{key}" for key in (*SMTP_ROUTE_KEYS, *SANDBOX_OFF_KEYS) if key in post]
    if not keys or is_trusted(path.parent):
        return
    if any(key in CODE_KEYS for key in keys):
        why = "which makes patchbot run the code it names"
    elif any(key.removeprefix("post.") in SANDBOX_OFF_KEYS for key in keys):
        why = "which runs mailed patches outside the sandbox"
    else:
        why = "which says where patchbot sends your SMTP login"
    raise ConfigError(
        f"{path}: sets {', '.join(keys)}, {why}, and {path.parent} is not a trusted "
        f"directory; to trust it, add the line {path.parent.resolve()} to {trusted_file()}, "
        f"or pass --config {path}"
    )


def find_config(start: Path) -> Path | None:
    """The nearest .patchbot.toml, or pyproject.toml with [tool.patchbot], upwards."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and "patchbot" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def load_config(explicit: str | Path | None = None, *, cwd: Path | None = None) -> Config:
    """--config FILE if given, else the nearest config upwards from cwd (which may set
    CODE_KEYS only from a trusted directory), else defaults."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--config {explicit}: no such file")
        return load_file(path)
    found = find_config((cwd or Path.cwd()).resolve())
    if found is None:
        return Config()
    table = _read_table(found)
    _check_trusted(found, table)
    return parse_table(table, found)


def check_against_rules(config: Config, rules: Iterable[Any]) -> None:
    """Every [rules.<id>] must name a loaded rule (or alias) and only its options.

    ``rules`` are engine LoadedRule objects (typed loosely to keep this module free of
    the engine import).
    """
    by_name: dict[str, Any] = {}
    for item in rules:
        for name in (item.rule.id, *item.rule.aliases):
            by_name[name] = item.rule
    where = config.where()
    for rule_id, settings in config.rules.items():
        rule = by_name.get(rule_id)
        if rule is None:
            raise ConfigError(f"{where}: unknown rule {rule_id!r} in [rules.{rule_id}]")
        for key, value in settings.options.items():
            if key not in rule.options:
                known = ", ".join(sorted(RULE_RESERVED | set(rule.options)))
                raise ConfigError(f"{where}: unknown key rules.{rule_id}.{key!r} (known: {known})")
            default = rule.options[key]
            if default is not None and not _same_kind(default, value):
                raise ConfigError(
                    f"{where}: rules.{rule_id}.{key} must be a {type(default).__name__}"
                )
    for entry in config.ignores:
        if entry.rule not in by_name:
            raise ConfigError(f"{where}: unknown rule {entry.rule!r} in [[ignore]]")


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, list)
    if isinstance(default, Mapping):
        return isinstance(value, dict)
    return isinstance(value, type(default))
