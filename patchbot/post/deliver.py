"""Queue review replies in the ledger and deliver the queue, never posting twice.

queue(): policy first (a muted list gets nothing, a series over its cap gets ``capped``
rows), then one ``queued`` ledger row per new Message-ID; a Message-ID the ledger knows is
left alone.  flush(): for each ``queued``/``sending`` row, ask the archive whether the
message is there already (a crash after SMTP but before ``sent`` was recorded), honour the
per-hour cap, claim the row (``sending``, atomically: a row another process claimed is
left to it), run SMTP, commit ``sent`` - or put the row back in the queue with the error.
A ``sending`` row that a live process is delivering is ``in-flight``, not a failure.
An uncertain row (``sending`` after a crash, or a connection that broke during DATA) is
only retried once the archive says the message is not there and it
is older than ``settle`` seconds (a real archive can take minutes to show new mail).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from patchbot.errors import InputError
from patchbot.post import smtp
from patchbot.post.ledger import Ledger, ReplyRow
from patchbot.post.message import as_bytes, recipients
from patchbot.post.policy import choose_list, may_queue, may_send_now
from patchbot.post.settings import PostSettings

log = logging.getLogger(__name__)

# an interrupted delivery and no archive to ask: only the operator can tell whether it
# arrived, so the error names the way out instead of a retry that cannot help
RESOLVE = (
    "no archive can tell whether it arrived: look at the list, then run "
    "`patchbot post --resolve MSGID sent|drop|resend`"
)


@dataclass(frozen=True)
class Action:
    what: str  # muted, known, capped, queued, sent, in-archive, in-flight, waiting, deferred,
    # failed, held
    message_id: str
    in_reply_to: str
    detail: str = ""
    hint: str = ""  # what the operator can do about it, for the one-line error

    def line(self) -> str:
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.what} {self.message_id} (reply to {self.in_reply_to}){tail}"


class Poster:
    def __init__(
        self,
        ledger: Ledger,
        settings: PostSettings,
        *,
        archive: str | None,
        settle: float = 300.0,
        stop: Callable[[], bool] = lambda: False,
        failure_level: int = logging.WARNING,
    ) -> None:
        # review and post print every action on stdout themselves and pass INFO, so a
        # refused delivery is not told twice on stderr next to its one-line error
        self.failure_level = failure_level
        self.ledger = ledger
        self.settings = settings
        self.archive = archive
        self.settle = settle
        self.stop = stop

    def queue(self, messages: Sequence[EmailMessage], series_key: str) -> list[Action]:
        actions = []
        for msg in messages:
            mid, parent = str(msg["Message-ID"]), str(msg["In-Reply-To"])
            rcpts = recipients(msg)
            most = self.settings.max_recipients
            if len(rcpts) > most:  # a hand-made reply to `post`
                why = f"{len(rcpts)} recipients, over max-recipients = {most}"
                actions.append(self._log(Action("muted", mid, parent, why)))
                continue
            verdict = choose_list(rcpts, self.settings.lists)
            if not verdict.allowed:
                actions.append(self._log(Action("muted", mid, parent, verdict.reason)))
                continue
            known = self.ledger.get(mid)
            if known is not None:
                actions.append(self._log(Action("known", mid, parent, f"already {known.state}")))
                continue
            policy = self.settings.lists[verdict.list_addr]
            cap = may_queue(self.ledger, policy, series_key)
            state = "queued" if cap.allowed else "capped"
            self.ledger.enqueue(
                mid,
                in_reply_to=parent,
                series_key=series_key,
                list_addr=policy.address,
                raw=as_bytes(msg),
                rcpts=rcpts,
                state=state,
            )
            actions.append(self._log(Action(state, mid, parent, cap.reason)))
        return actions

    def flush(self) -> list[Action]:
        actions = []
        for listed in self.ledger.rows("sending", "queued"):
            if self.stop():
                break
            row = self.ledger.get(listed.message_id)  # another process may have moved it
            if row is None or row.state not in ("sending", "queued"):
                continue
            action = self._deliver(row)
            if action is not None:
                actions.append(self._log(action))
        return actions

    def _deliver(self, row: ReplyRow) -> Action | None:
        mid, parent = row.message_id, row.in_reply_to
        policy = self.settings.lists.get(row.list_addr)
        if policy is None or not policy.send:
            return Action("held", mid, parent, f"list {row.list_addr} is muted now")
        if row.state == "sending" and self.ledger.in_flight():
            # another live process is delivering (it holds the lock until it commits)
            return Action("in-flight", mid, parent, "another process is delivering it")
        uncertain = row.state == "sending" or row.uncertain
        if uncertain and time.time() - row.updated < self.settle:
            return Action("waiting", mid, parent, "a delivery may be in flight; checking later")
        if self.archive:
            try:
                from patchbot.series.archive import message_exists

                if message_exists(self.archive, mid):
                    self.ledger.mark_sent(mid)
                    return Action("in-archive", mid, parent, "already in the archive, not resent")
            except InputError as exc:
                if uncertain:  # cannot rule out that it arrived: do not risk a duplicate
                    return Action("waiting", mid, parent, f"cannot check the archive: {exc}")
                log.info("archive check for %s failed (%s); it was never handed over", mid, exc)
        elif uncertain:
            return Action(
                "waiting", mid, parent, "may have been delivered; no archive to check", RESOLVE
            )
        cap = may_send_now(self.ledger, policy)
        if not cap.allowed:
            return Action("deferred", mid, parent, cap.reason)
        with self.ledger.delivering():
            # committed before SMTP, so a crash now is recoverable; and atomic, so when
            # another process (a second flush of the same ledger) took the row first,
            # this one leaves it alone
            if not self.ledger.claim(row):
                log.debug("%s is being delivered by another process", mid)
                return None
            try:
                smtp.send(self.settings.smtp, self.envelope_from(), row.rcpts, row.raw)
            except smtp.DeliveryError as exc:
                self.ledger.mark_failed(mid, str(exc), uncertain=exc.uncertain)
                hint = RESOLVE if exc.uncertain and not self.archive else ""
                return Action("failed", mid, parent, f"{exc}; kept in the queue for a retry", hint)
            self.ledger.mark_sent(mid)
        return Action("sent", mid, parent, f"to {', '.join(row.rcpts)}")

    def envelope_from(self) -> str:
        if self.settings.envelope_sender:
            return self.settings.envelope_sender
        return email.utils.parseaddr(self.settings.sender_or_error())[1]

    def _log(self, action: Action) -> Action:
        level = self.failure_level if action.what == "failed" else logging.INFO
        log.log(level, "%s", action.line())
        return action
