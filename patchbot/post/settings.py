"""Posting settings: git's ``sendemail.*`` keys, overridden by ``[post]`` in the config.

``[post]`` accepts the sendemail names as git spells them (``smtpServer``,
``smtpServerPort``, ``smtpEncryption``, ``smtpUser``, ``smtpPass``, ``from``,
``envelopeSender``) so a maintainer can copy them from ~/.gitconfig, plus patchbot's own:
``send`` (watch sends without --send), ``ledger`` (SQLite file), ``max-recipients`` (To +
Cc of one reply, 10), ``[post.lists."ADDR"]``
tables (the per-list policy) and ``[post.patchwork]``.  Unknown keys are ConfigErrors.
"""

from __future__ import annotations

import email.utils
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchbot.config import Config
from patchbot.errors import ConfigError

SENDEMAIL_KEYS = (
    "smtpServer",
    "smtpServerPort",
    "smtpEncryption",
    "smtpUser",
    "smtpPass",
    "from",
    "envelopeSender",
)
OWN_KEYS = {
    "send",
    "ledger",
    "lists",
    "patchwork",
    "timeout",
    "max-recipients",
    "run-patches-without-sandbox",
}
LIST_KEYS = {"send", "max-per-series", "max-per-hour"}
PATCHWORK_KEYS = {"url", "token", "context", "target-url"}
ENCRYPTIONS = ("none", "ssl", "tls")
DEFAULT_MAX_PER_SERIES = 10
DEFAULT_MAX_PER_HOUR = 20
# To + Cc of one reply.  A patch names its own recipients, so without a cap anyone could
# aim the bot at a crowd of third parties by Cc'ing them; kernel patches rarely Cc more
# than the list, the author and a handful of maintainers.
DEFAULT_MAX_RECIPIENTS = 10


@dataclass(frozen=True)
class SmtpSettings:
    server: str = "localhost"
    port: int | None = None  # None: 25, or 465 for ssl
    encryption: str = "none"  # none | ssl (implicit TLS) | tls (STARTTLS), as sendemail
    user: str | None = None
    password: str | None = None
    timeout: float = 60.0

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.encryption == "ssl" else 25


@dataclass(frozen=True)
class ListPolicy:
    address: str  # lower case
    send: bool = False  # muted until the operator opts in
    max_per_series: int = DEFAULT_MAX_PER_SERIES
    max_per_hour: int = DEFAULT_MAX_PER_HOUR


@dataclass(frozen=True)
class PatchworkSettings:
    url: str
    token: str | None = None
    context: str = "patchbot"
    target_url: str | None = None


@dataclass(frozen=True)
class PostSettings:
    sender: str | None = None  # "Name <addr>"
    envelope_sender: str | None = None
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    send: bool = False
    ledger: Path | None = None
    lists: dict[str, ListPolicy] = field(default_factory=dict)
    patchwork: PatchworkSettings | None = None
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    # `watch --validate` runs mailed patches; only this key, set to true in so many words,
    # lets it do that without the sandbox (docs/SANDBOX.md)
    without_sandbox: bool = False

    def sender_or_error(self) -> str:
        if not self.sender:
            raise ConfigError(
                "no sender address: set sendemail.from in git config, from in [post], "
                "or pass --from"
            )
        return self.sender


def git_sendemail(cwd: Path | None = None) -> dict[str, str]:
    """``sendemail.*`` from git config (repository, global, system), by git's key names."""
    try:
        proc = subprocess.run(
            ["git", "config", "--null", "--get-regexp", r"^sendemail\."],
            cwd=cwd,
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, str] = {}
    by_lower = {k.lower(): k for k in SENDEMAIL_KEYS}
    for item in proc.stdout.decode("utf-8", "replace").split("\0"):
        if not item:
            continue
        key, _, value = item.partition("\n")
        name = by_lower.get(key.removeprefix("sendemail.").lower())
        if name:
            found[name] = value
    return found


def _int(where: str, key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key} must be a whole number") from None
    if number < 0:
        raise ConfigError(f"{where}: {key} must not be negative")
    return number


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _bool(where: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "true",
        "yes",
        "on",
        "1",
        "false",
        "no",
        "off",
        "0",
    ):
        return value.lower() in ("true", "yes", "on", "1")
    raise ConfigError(f"{where}: {key} must be true or false")


def parse_address(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or "@" not in email.utils.parseaddr(value)[1]:
        raise ConfigError(f"{where}: {key} must be a mail address, not {value!r}")
    return value


def _envelope(where: str, value: Any, sender: Any) -> str | None:
    """sendemail.envelopeSender: an address, or "auto" for the From address."""
    if not value:
        return None
    if str(value).lower() == "auto":
        return email.utils.parseaddr(str(sender))[1] if sender else None
    return email.utils.parseaddr(parse_address(where, "envelopeSender", value))[1]


def _lists(where: str, table: Any) -> dict[str, ListPolicy]:
    if not isinstance(table, dict):
        raise ConfigError(f'{where}: post.lists must be a table of [post.lists."addr"] tables')
    out: dict[str, ListPolicy] = {}
    for address, body in table.items():
        parse_address(where, "post.lists key", address)
        if not isinstance(body, dict):
            raise ConfigError(f'{where}: [post.lists."{address}"] must be a table')
        for key in body:
            if key not in LIST_KEYS:
                raise ConfigError(f'{where}: unknown key post.lists."{address}".{key!r}')
        out[address.lower()] = ListPolicy(
            address=address.lower(),
            send=_bool(where, "send", body.get("send", False)),
            max_per_series=_int(
                where, "max-per-series", body.get("max-per-series", DEFAULT_MAX_PER_SERIES)
            ),
            max_per_hour=_int(
                where, "max-per-hour", body.get("max-per-hour", DEFAULT_MAX_PER_HOUR)
            ),
        )
    return out


def _patchwork(where: str, table: Any) -> PatchworkSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: post.patchwork must be a table")
    for key in table:
        if key not in PATCHWORK_KEYS:
            raise ConfigError(f"{where}: unknown key post.patchwork.{key!r}")
    url = table.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: post.patchwork.url must be the server's http(s) URL")
    return PatchworkSettings(
        url=url.rstrip("/"),
        token=str(table["token"]) if "token" in table else None,
        context=str(table.get("context", "patchbot")),
        target_url=str(table["target-url"]) if "target-url" in table else None,
    )


def load_post_settings(
    config: Config, *, git: dict[str, str] | None = None, cwd: Path | None = None
) -> PostSettings:
    """Merge git's sendemail.* (base) with [post] (wins); ``git`` overrides the lookup."""
    where = config.where()
    table = dict(config.post)
    for key in table:
        if key not in OWN_KEYS and key not in SENDEMAIL_KEYS:
            raise ConfigError(f"{where}: unknown key post.{key!r}")
    values: dict[str, Any] = dict(git_sendemail(cwd) if git is None else git)
    values.update({k: v for k, v in table.items() if k in SENDEMAIL_KEYS})
    encryption = str(values.get("smtpEncryption", "none")).lower() or "none"
    if encryption not in ENCRYPTIONS:
        raise ConfigError(f"{where}: smtpEncryption must be one of {', '.join(ENCRYPTIONS)}")
    server = str(values.get("smtpServer", "localhost"))
    if server.startswith("/"):
        raise ConfigError(
            f"{where}: smtpServer {server} is a sendmail program; patchbot sends over SMTP only"
        )
    port = values.get("smtpServerPort")
    smtp = SmtpSettings(
        server=server,
        port=_int(where, "smtpServerPort", port) if port is not None else None,
        encryption=encryption,
        user=str(values["smtpUser"]) if values.get("smtpUser") else None,
        password=str(values["smtpPass"]) if values.get("smtpPass") else None,
        timeout=float(_int(where, "timeout", table.get("timeout", 60))),
    )
    ledger = table.get("ledger")
    if ledger is not None and not isinstance(ledger, str):
        raise ConfigError(f"{where}: post.ledger must be a file name")
    base = config.path.parent if config.path else Path.cwd()
    return PostSettings(
        sender=parse_address(where, "from", values["from"]) if values.get("from") else None,
        envelope_sender=_envelope(where, values.get("envelopeSender"), values.get("from")),
        smtp=smtp,
        send=_bool(where, "send", table.get("send", False)),
        without_sandbox=_bool(
            where, "run-patches-without-sandbox", table.get("run-patches-without-sandbox", False)
        ),
        ledger=(base / ledger).resolve() if ledger else None,
        lists=_lists(where, table.get("lists", {})),
        patchwork=_patchwork(where, table["patchwork"]) if "patchwork" in table else None,
        max_recipients=_max_recipients(where, table.get("max-recipients")),
    )


def _max_recipients(where: str, value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_RECIPIENTS
    number = _int(where, "max-recipients", value)
    if number < 2:
        raise ConfigError(f"{where}: max-recipients must be at least 2 (the author and the list)")
    return number
