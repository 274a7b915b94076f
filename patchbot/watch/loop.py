"""The bot: poll the archive's Atom feed, review each new complete series once, reply.

Each pass: deliver what is still queued (retries), read new.atom, fetch each patch thread,
wait for a series until all N/M patches are there (or ``wait`` seconds passed since it was
first seen), keep only the newest revision of each series, skip a revision the ledger
says was reviewed, lint (and, with validate, boot the series in the bundled model),
queue the replies, deliver.  Every action is one log line.
Failures of the archive or SMTP are logged and retried on the next pass; nothing is
dropped.  ``stop()`` is checked between steps, so SIGTERM finishes the current step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from patchbot.engine import Engine
from patchbot.errors import InputError
from patchbot.post.deliver import Poster
from patchbot.post.ledger import Ledger
from patchbot.post.message import bare
from patchbot.post.patchwork import Patchwork
from patchbot.post.settings import PostSettings
from patchbot.series.feed import fetch_feed, new_atom_url, patch_threads, series_version
from patchbot.watch import review
from patchbot.watch.thread import Thread, complete, load, revision, series_key

log = logging.getLogger(__name__)

# tries of a review that raises (counted in the ledger, across restarts) before the bot
# gives that revision up: a passing fault (the tree moving under a build) gets a second
# chance, a deterministic crash on hostile input costs three error lines, not one a pass
MAX_ATTEMPTS = 3


@dataclass
class Bot:
    archive: str
    engine: Engine
    settings: PostSettings
    ledger: Ledger
    send: bool = False
    tree: str | None = None
    validate: bool = False  # also boot the touched drivers in the bundled model
    wait: float = 600.0  # seconds to wait for the rest of an incomplete series
    settle: float = 300.0
    stop: Callable[[], bool] = lambda: False
    _dry_seen: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.poster = Poster(
            self.ledger, self.settings, archive=self.archive, settle=self.settle, stop=self.stop
        )

    def poll(self) -> bool:
        """One pass; False when part of it failed (logged, and retried on the next pass).

        Never raises for the archive's or the SMTP server's failures: a bot that stopped
        on the first unreachable archive would need a babysitter."""
        ok = self._flush()
        try:
            entries = fetch_feed(new_atom_url(self.archive))
        except InputError as exc:
            log.error("poll failed, retrying on the next pass: %s", exc)
            return False
        queued = False  # anything new for the queue this pass
        threads: dict[str, list[Thread]] = {}  # series key -> revisions seen this pass
        seen_roots: set[str] = set()
        for mid in patch_threads(entries):
            if self.stop():
                return ok
            if self.ledger.failures(f"thread:{mid}", "load") >= MAX_ATTEMPTS:
                continue  # given up on (logged then)
            try:
                thread = load(self.archive, mid, tree=self.tree)
            except InputError as exc:
                log.error("skipping thread <%s> for now: %s", mid, exc)
                ok = False
                continue
            except Exception as exc:  # a bug met by hostile input: this thread only
                ok = self._failed(f"thread:{mid}", "load", f"thread <{mid}>", exc) and ok
                continue
            series = thread.series
            root = bare((series.cover or series.patches[0]).message_id)
            if root in seen_roots:
                continue
            seen_roots.add(root)
            threads.setdefault(series_key(series), []).append(thread)
        for key, revisions in threads.items():
            if self.stop():
                return ok
            revisions.sort(key=lambda t: series_version(t.series))
            newest = revisions[-1]
            for older in revisions[:-1]:  # superseded before the bot got to it
                if self._mark(key, revision(older.series)):
                    log.info("superseded v%d of %s", series_version(older.series), key)
            done, ok_here = self._review_isolated(key, newest)
            queued = done or queued
            ok = ok and ok_here
        if queued and not self.stop():  # the queue as it was was flushed at the start
            ok = self._flush() and ok
        return ok

    def _review_isolated(self, key: str, thread: Thread) -> tuple[bool, bool]:
        """_consider() with any exception caught: (replies queued, no failure).

        One hostile series must not stop the bot for every other one: the error is logged
        with the series, counted in the ledger and retried on later passes, at most
        MAX_ATTEMPTS times in all (restarts included), then that revision is given up."""
        rev = revision(thread.series)
        if self.ledger.failures(key, rev) >= MAX_ATTEMPTS:
            return False, True  # given up before; logged then
        try:
            return self._consider(key, thread), True
        except Exception as exc:
            label = f"v{series_version(thread.series)} of {key} (<{thread.message_id}>)"
            if not self._failed(key, rev, label, exc):
                self._mark(key, rev)
            return False, False

    def _failed(self, key: str, rev: str, label: str, exc: Exception) -> bool:
        """Log and count one failure; False once it has failed MAX_ATTEMPTS times."""
        why = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        attempts = self.ledger.record_failure(key, rev, why)
        log.debug("the failure in %s", label, exc_info=exc)
        if attempts >= MAX_ATTEMPTS:
            log.error(
                "internal error in %s (%d of %d attempts), giving up on it: %s",
                label,
                attempts,
                MAX_ATTEMPTS,
                why,
            )
            return False
        log.error(
            "internal error in %s (attempt %d of %d), retrying on the next pass: %s",
            label,
            attempts,
            MAX_ATTEMPTS,
            why,
        )
        return True

    def _flush(self) -> bool:
        """Deliver the queue; False when a reply is still undelivered (failed, or waiting
        to rule out that an interrupted delivery arrived)."""
        if not self.send:
            return True
        return not any(a.what in ("failed", "waiting") for a in self.poster.flush())

    def _mark(self, key: str, rev: str) -> bool:
        if self.send:
            if self.ledger.reviewed(key, rev):
                return False
            self.ledger.record_review(key, rev)
            return True
        if (key, rev) in self._dry_seen:
            return False
        self._dry_seen.add((key, rev))
        return True

    def _consider(self, key: str, thread: Thread) -> bool:
        """Review ``thread`` unless done before; True when replies were queued."""
        series = thread.series
        rev = revision(series)
        if (self.send and self.ledger.reviewed(key, rev)) or (key, rev) in self._dry_seen:
            return False
        label = f"v{series_version(series)} of {key} (<{thread.message_id}>)"
        if not complete(series):
            first = bare((series.cover or series.patches[0]).message_id)
            waited = time.time() - self.ledger.first_seen(first)
            if waited < self.wait:
                have = len(series.patches)
                total = max(p.total or 0 for p in series.patches)
                log.info("waiting for %s: %d of %d patches so far", label, have, total)
                return False
            log.info("reviewing %s incomplete: the rest did not come in %.0f s", label, self.wait)
        queued = False
        result = review.lint(self.engine, thread)
        validation = review.validate(thread, self.tree) if self.validate else None
        if validation is not None:
            found = sum(len(report.findings) for report in validation)
            log.info(
                "validated %s in the model: %d boots, %d findings", label, len(validation), found
            )
        sender = self.settings.sender_or_error()
        messages = review.reply_messages(
            thread, result, sender=sender, validation=validation, settings=self.settings
        )
        log.info("reviewed %s: %d findings, %d replies", label, len(result.findings), len(messages))
        if self.send:
            queued = any(a.what == "queued" for a in self.poster.queue(messages, key))
            self._patchwork(thread, result)
        else:
            for msg in messages:
                log.info(
                    "would send %s (reply to %s; silent without --send)",
                    msg["Message-ID"],
                    msg["In-Reply-To"],
                )
        self._mark(key, rev)
        return queued

    def _patchwork(self, thread: Thread, result: object) -> None:
        if self.settings.patchwork is None:
            return
        client = Patchwork(self.settings.patchwork)
        for check in review.checks(thread, result):  # type: ignore[arg-type]
            try:
                client.post_check(check)
            except InputError as exc:
                log.error("patchwork check for <%s> not posted: %s", check.message_id, exc)

    def run(self, interval: float, sleep: Callable[[float], bool]) -> None:
        """Poll until stop(); ``sleep(seconds)`` returns True when woken to stop."""
        while not self.stop():
            try:
                self.poll()
            except Exception as exc:  # e.g. the ledger's disk: log it, try the next pass
                log.error("poll failed, retrying on the next pass: %s: %s", type(exc).__name__, exc)
                log.debug("the failure", exc_info=exc)
            if self.stop() or sleep(interval):
                break
        log.info("stopped; the ledger %s is up to date", self.ledger.path)
