"""The ledger: every reply patchbot meant to send and what became of it, in SQLite.

A reply row is keyed by its deterministic Message-ID and moves
``queued -> sending -> sent``; ``sending`` is committed *before* the SMTP transaction
and ``sent`` right after it, so a crash in between leaves a ``sending`` row that the next
run resolves by asking the archive whether the message arrived (see deliver.py).
A refused delivery goes back to ``queued`` with the error and is retried on the next pass.
``capped`` rows were over a list's per-series cap and are not sent; ``dropped`` rows were
given up by the operator (`post --resolve MSGID drop`).

The ``failures`` table counts reviews that raised (a bug met by hostile input), so the
bot retries one a bounded number of times, across restarts, and then gives up on it.
The ``reviews`` table remembers which revision of a series (a digest of its messages) was
reviewed, so the bot reviews a new revision again and an unchanged one not at all.

Every write commits at once: the ledger is the bot's memory across SIGKILL.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from patchbot.errors import InputError

log = logging.getLogger(__name__)
_T = TypeVar("_T")

REPLIES = """
CREATE TABLE IF NOT EXISTS replies (
    message_id   TEXT PRIMARY KEY,
    in_reply_to  TEXT NOT NULL,
    series_key   TEXT NOT NULL,
    list_addr    TEXT NOT NULL,
    state        TEXT NOT NULL
                 CHECK (state IN ('queued', 'sending', 'sent', 'capped', 'dropped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created      REAL NOT NULL,
    updated      REAL NOT NULL,
    sent_at      REAL,
    raw          BLOB NOT NULL,
    rcpts        TEXT NOT NULL,
    uncertain    INTEGER NOT NULL DEFAULT 0  -- the last attempt may have been delivered
);
"""
SCHEMA = (
    REPLIES
    + """
CREATE INDEX IF NOT EXISTS replies_state ON replies(state);
CREATE INDEX IF NOT EXISTS replies_list_sent ON replies(list_addr, sent_at);
CREATE TABLE IF NOT EXISTS reviews (
    series_key   TEXT NOT NULL,
    revision     TEXT NOT NULL,
    reviewed_at  REAL NOT NULL,
    PRIMARY KEY (series_key, revision)
);
CREATE TABLE IF NOT EXISTS failures (
    series_key   TEXT NOT NULL,
    revision     TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    updated      REAL NOT NULL,
    PRIMARY KEY (series_key, revision)
);
CREATE TABLE IF NOT EXISTS pending (
    thread_id    TEXT PRIMARY KEY,
    first_seen   REAL NOT NULL
);
"""
)
STATES = ("queued", "sending", "sent", "capped", "dropped")
RESOLUTIONS = ("sent", "drop", "resend")


@dataclass(frozen=True)
class ReplyRow:
    message_id: str
    in_reply_to: str
    series_key: str
    list_addr: str
    state: str
    attempts: int
    last_error: str | None
    raw: bytes
    rcpts: list[str]
    uncertain: bool
    updated: float


# "database is locked" after the busy timeout: tried again this many times, with a
# growing pause, before it becomes a one-line error (exit 2), never a traceback
LOCKED_RETRIES = 5
BUSY_TIMEOUT = 30.0  # seconds sqlite itself waits for another writer


def _contended(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class _Db:
    """The connection, each statement retried while another process holds the write lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # isolation_level=None: autocommit; each statement is its own transaction
        self.conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT)

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self._retry(lambda: self.conn.execute(sql, params))

    def executescript(self, sql: str) -> None:
        self._retry(lambda: self.conn.executescript(sql))

    def _retry(self, call: Callable[[], _T]) -> _T:
        for attempt in range(LOCKED_RETRIES + 1):
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if not _contended(exc):
                    raise InputError(f"ledger {self.path}: {exc}") from None
                if attempt == LOCKED_RETRIES:
                    raise InputError(
                        f"ledger {self.path}: {exc} (another process kept it busy); try again"
                    ) from None
                log.info("ledger %s: %s; retrying", self.path, exc)
                time.sleep(0.05 * 2**attempt)
            except sqlite3.DatabaseError as exc:
                raise InputError(f"ledger {self.path}: {exc}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


class Ledger:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = _Db(self.path)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise InputError(f"ledger {self.path}: {exc}") from None
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """A ledger written before the ``dropped`` state: widen the CHECK (sqlite cannot
        alter one, so the table is copied inside one transaction)."""
        (sql,) = self.db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'replies'"
        ).fetchone()
        if "'dropped'" in sql:
            return
        self.db.executescript(
            "BEGIN IMMEDIATE; ALTER TABLE replies RENAME TO replies_old;"
            + REPLIES
            + "INSERT INTO replies SELECT * FROM replies_old; DROP TABLE replies_old;"
            + SCHEMA
            + "COMMIT;"
        )

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def hold_for_watch(self) -> None:
        """One bot per ledger: an exclusive flock on LEDGER.lock, held until close().

        Two bots on one ledger would each review and queue the same series; the claim in
        claim() keeps a reply from going out twice, this keeps the log honest too.
        `post` and `review` do not take it: they only need claim()."""
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"ledger lock {lock}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise InputError(
                f"another `patchbot watch` is using the ledger {self.path}; "
                "run one bot per ledger (or give this one its own --ledger)"
            ) from None
        self._lock = fd

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- replies ----------------------------------------------------------------------

    def enqueue(
        self,
        message_id: str,
        *,
        in_reply_to: str,
        series_key: str,
        list_addr: str,
        raw: bytes,
        rcpts: list[str],
        state: str = "queued",
    ) -> bool:
        """Record a new reply; False when that Message-ID is known already (any state)."""
        now, joined = time.time(), "\n".join(rcpts)
        cur = self.db.execute(
            "INSERT OR IGNORE INTO replies (message_id, in_reply_to, series_key, list_addr,"
            " state, created, updated, raw, rcpts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message_id,
                in_reply_to,
                series_key,
                list_addr,
                state,
                now,
                now,
                raw,
                joined,
            ),
        )
        return cur.rowcount == 1

    def get(self, message_id: str) -> ReplyRow | None:
        row = self.db.execute(_SELECT + " WHERE message_id = ?", (message_id,)).fetchone()
        return _row(row) if row else None

    def rows(self, *states: str) -> list[ReplyRow]:
        """Rows in ``states`` (all when none given), oldest first."""
        wanted = states or STATES
        marks = ", ".join("?" for _ in wanted)
        return [
            _row(r)
            for r in self.db.execute(
                _SELECT + f" WHERE state IN ({marks}) ORDER BY created, rowid", wanted
            )
        ]

    @contextmanager
    def delivering(self) -> Iterator[None]:
        """Held (shared) from before claim() until the row's outcome is committed.

        Several processes may deliver different rows at once; in_flight() tells a
        ``sending`` row some live process is delivering right now from one that a crash
        left behind (a dead process holds no lock)."""
        fd = self._send_lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def in_flight(self) -> bool:
        """True while any process is inside delivering()."""
        fd = self._send_lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    def _send_lock(self) -> int:
        lock = self.path.with_name(self.path.name + ".send.lock")
        try:
            return os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"ledger lock {lock}: {exc.strerror}") from None

    def claim(self, row: ReplyRow) -> bool:
        """Take ``row`` for one delivery attempt: ``sending`` is committed before SMTP.

        Atomic across processes: only the process whose UPDATE still finds the row in
        the state and at the time it read it wins; every other one is told False and
        leaves the row alone (two flushes of one queue used to send it twice)."""
        cur = self.db.execute(
            "UPDATE replies SET state = 'sending', attempts = attempts + 1, updated = ?"
            " WHERE message_id = ? AND state = ? AND updated = ?",
            (time.time(), row.message_id, row.state, row.updated),
        )
        return cur.rowcount == 1

    def mark_sending(self, message_id: str) -> None:
        self._set(message_id, "sending", attempts_delta=1)

    def mark_sent(self, message_id: str) -> None:
        now = time.time()
        self.db.execute(
            "UPDATE replies SET state = 'sent', sent_at = ?, updated = ?, last_error = NULL"
            " WHERE message_id = ?",
            (now, now, message_id),
        )

    def mark_failed(self, message_id: str, error: str, *, uncertain: bool) -> None:
        """Back to the queue: delivery is retried on the next pass.  ``uncertain``: the
        connection broke after the message was handed over, so it may have arrived."""
        self.db.execute(
            "UPDATE replies SET state = 'queued', updated = ?, last_error = ?, uncertain = ?"
            " WHERE message_id = ?",
            (time.time(), error, int(uncertain), message_id),
        )

    def resolve(self, message_id: str, how: str) -> ReplyRow:
        """The operator's word on a reply nothing can settle (no archive to ask whether an
        interrupted delivery arrived): ``sent`` (it is on the list), ``drop`` (never send
        it) or ``resend`` (it is not on the list: queue it again, certain)."""
        if how not in RESOLUTIONS:
            raise InputError(f"--resolve: say sent, drop or resend, not {how!r}")
        row = self.get(message_id)
        if row is None:
            raise InputError(f"--resolve: {message_id} is not in the ledger {self.path}")
        if row.state in ("sent", "dropped"):
            raise InputError(f"--resolve: {message_id} is already {row.state}")
        note = f"resolved by hand: {how}"
        if how == "sent":
            self.mark_sent(message_id)
        else:
            state = "dropped" if how == "drop" else "queued"
            self.db.execute(
                "UPDATE replies SET state = ?, uncertain = 0, updated = ?, last_error = ?"
                " WHERE message_id = ?",
                (state, time.time(), note, message_id),
            )
        resolved = self.get(message_id)
        assert resolved is not None
        return resolved

    def mark_capped(self, message_id: str, why: str) -> None:
        self._set(message_id, "capped", error=why)

    def _set(
        self, message_id: str, state: str, *, error: str | None = None, attempts_delta: int = 0
    ) -> None:
        self.db.execute(
            "UPDATE replies SET state = ?, updated = ?, last_error = COALESCE(?, last_error),"
            " attempts = attempts + ? WHERE message_id = ?",
            (state, time.time(), error, attempts_delta, message_id),
        )

    def sent_since(self, list_addr: str, since: float) -> int:
        """Replies to ``list_addr`` sent at or after ``since`` (the per-hour cap)."""
        (count,) = self.db.execute(
            "SELECT COUNT(*) FROM replies WHERE list_addr = ? AND state IN ('sent', 'sending')"
            " AND COALESCE(sent_at, updated) >= ?",
            (list_addr, since),
        ).fetchone()
        return int(count)

    def series_count(self, series_key: str, list_addr: str) -> int:
        """Replies to one series on one list that are sent or on their way."""
        (count,) = self.db.execute(
            "SELECT COUNT(*) FROM replies WHERE series_key = ? AND list_addr = ?"
            " AND state IN ('queued', 'sending', 'sent')",
            (series_key, list_addr),
        ).fetchone()
        return int(count)

    # -- reviews and pending threads ---------------------------------------------------

    def reviewed(self, series_key: str, revision: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM reviews WHERE series_key = ? AND revision = ?",
                (series_key, revision),
            ).fetchone()
            is not None
        )

    def record_review(self, series_key: str, revision: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO reviews VALUES (?, ?, ?)", (series_key, revision, time.time())
        )

    def record_failure(self, series_key: str, revision: str, error: str) -> int:
        """Count one more failed review of this revision; returns the attempts so far."""
        self.db.execute(
            "INSERT INTO failures VALUES (?, ?, 1, ?, ?) ON CONFLICT (series_key, revision)"
            " DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error,"
            " updated = excluded.updated",
            (series_key, revision, error, time.time()),
        )
        return self.failures(series_key, revision)

    def failures(self, series_key: str, revision: str) -> int:
        row = self.db.execute(
            "SELECT attempts FROM failures WHERE series_key = ? AND revision = ?",
            (series_key, revision),
        ).fetchone()
        return int(row[0]) if row else 0

    def first_seen(self, thread_id: str) -> float:
        """When the bot first saw this (incomplete) thread; recorded on the first call."""
        self.db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?)", (thread_id, time.time()))
        (seen,) = self.db.execute(
            "SELECT first_seen FROM pending WHERE thread_id = ?", (thread_id,)
        ).fetchone()
        return float(seen)

    def states(self) -> Iterator[tuple[str, int]]:
        yield from self.db.execute("SELECT state, COUNT(*) FROM replies GROUP BY state")


_SELECT = (
    "SELECT message_id, in_reply_to, series_key, list_addr, state, attempts, last_error,"
    " raw, rcpts, uncertain, updated FROM replies"
)


def _row(row: tuple) -> ReplyRow:
    return ReplyRow(
        message_id=row[0],
        in_reply_to=row[1],
        series_key=row[2],
        list_addr=row[3],
        state=row[4],
        attempts=int(row[5]),
        last_error=row[6],
        raw=bytes(row[7]),
        rcpts=[r for r in str(row[8]).split("\n") if r],
        uncertain=bool(row[9]),
        updated=float(row[10]),
    )
