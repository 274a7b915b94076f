"""Per-list posting policy: opt-in, muted by default, caps per series and per hour.

A reply may go out only when one of its recipients is a list the operator named in
``[post.lists."ADDR"]`` with ``send = true``.  A list nobody configured is muted, and so is
a configured one until it says ``send = true``: a bot must be invited onto a list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from patchbot.post.ledger import Ledger
from patchbot.post.settings import ListPolicy

HOUR = 3600.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    list_addr: str  # the list the reply is counted against ("" when none applies)
    reason: str  # why not, for the log line


def choose_list(rcpts: list[str], lists: dict[str, ListPolicy]) -> Verdict:
    """Which opted-in list the reply goes to, or why it is muted."""
    configured = [lists[r] for r in rcpts if r in lists]
    enabled = [p for p in configured if p.send]
    if enabled:
        return Verdict(True, enabled[0].address, "")
    if configured:
        return Verdict(False, configured[0].address, f"list {configured[0].address} is muted")
    return Verdict(False, "", "no recipient is an opted-in list (lists are muted by default)")


def may_queue(ledger: Ledger, policy: ListPolicy, series_key: str) -> Verdict:
    """The per-series cap: counted over every reply queued or sent for this series."""
    if ledger.series_count(series_key, policy.address) >= policy.max_per_series:
        return Verdict(
            False,
            policy.address,
            f"the cap of {policy.max_per_series} replies per series on {policy.address} is reached",
        )
    return Verdict(True, policy.address, "")


def may_send_now(ledger: Ledger, policy: ListPolicy, now: float | None = None) -> Verdict:
    """The per-hour cap: a reply over it waits in the queue for a later pass."""
    since = (now if now is not None else time.time()) - HOUR
    if ledger.sent_since(policy.address, since) >= policy.max_per_hour:
        return Verdict(
            False,
            policy.address,
            f"the cap of {policy.max_per_hour} replies per hour on {policy.address} is reached",
        )
    return Verdict(True, policy.address, "")
