"""The ledger under contention: claims are atomic, a locked database is retried and then
a one-line error, never a traceback (issue 16 item 10)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from patchbot.errors import InputError
from patchbot.post import ledger as ledger_mod
from patchbot.post.ledger import Ledger


def _queue(ledger: Ledger, mid: str) -> None:
    ledger.enqueue(
        mid, in_reply_to="<p@x>", series_key="s", list_addr="l@x", raw=b"x", rcpts=["l@x"]
    )


def test_only_one_of_two_ledgers_claims_a_row(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as one, Ledger(tmp_path / "l.sqlite") as two:
        _queue(one, "<m@x>")
        seen_by_one, seen_by_two = one.get("<m@x>"), two.get("<m@x>")
        assert seen_by_one is not None and seen_by_two is not None
        assert one.claim(seen_by_one) is True
        assert two.claim(seen_by_two) is False  # read before one's claim: stale
        row = two.get("<m@x>")
        assert row is not None and row.state == "sending" and row.attempts == 1
        two.mark_failed("<m@x>", "connection lost", uncertain=True)
        assert one.claim(seen_by_one) is False  # the row moved on since
        again = one.get("<m@x>")
        assert again is not None and again.uncertain and one.claim(again) is True


def _hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    started = threading.Event()

    def release() -> None:
        started.set()
        time.sleep(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    started.wait()
    return thread


def test_a_locked_ledger_is_retried_then_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    monkeypatch.setattr(ledger_mod, "BUSY_TIMEOUT", 0.05)  # sqlite's own wait, shortened
    # held for a moment: the retries outlast it and the write goes through
    thread = _hold_write_lock(path, 0.4)
    with Ledger(path) as ledger:
        _queue(ledger, "<m@x>")
        assert ledger.get("<m@x>") is not None
    thread.join()
    # held for longer than every retry: one InputError naming the ledger, not a traceback
    monkeypatch.setattr(ledger_mod, "LOCKED_RETRIES", 2)
    thread = _hold_write_lock(path, 2.0)
    with Ledger(path) as ledger, pytest.raises(InputError) as raised:
        _queue(ledger, "<n@x>")
    thread.join()
    assert "database is locked" in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_ledger_from_before_dropped_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(str(path), isolation_level=None)
    old.executescript(
        ledger_mod.SCHEMA.replace(", 'dropped'", "").replace(
            "CREATE TABLE IF NOT EXISTS failures", "CREATE TABLE IF NOT EXISTS unused"
        )
    )
    old.execute(
        "INSERT INTO replies (message_id, in_reply_to, series_key, list_addr, state, created,"
        " updated, raw, rcpts, uncertain) VALUES ('<m@x>', '<p@x>', 's', 'l@x', 'queued', 1, 1,"
        " x'00', 'l@x', 1)"
    )
    old.close()
    with Ledger(path) as ledger:
        row = ledger.resolve("<m@x>", "drop")
        assert row.state == "dropped" and row.raw == b"\0" and not row.uncertain
    with Ledger(path) as ledger:  # opening again leaves it as it is
        assert [r.state for r in ledger.rows()] == ["dropped"]
