"""The bot's parts without a server: the Atom feed, series grouping, the ledger and caps.

The integration tests (test_watch_bot.py) run them against a real archive; these pin
the rules each part follows, including cases a small fixture archive does not produce.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from bot_site import V1_COVER, V2_COVER, fixture_mails

from patchbot.errors import InputError
from patchbot.post.ledger import Ledger
from patchbot.post.policy import choose_list, may_queue, may_send_now
from patchbot.post.settings import ListPolicy
from patchbot.series.assemble import assemble
from patchbot.series.feed import parse_feed, patch_threads, series_version
from patchbot.series.load import messages_from_bytes
from patchbot.watch.thread import complete, header_index, revision, series_key

BASE = "http://127.0.0.1:1/coco"


def entry(mid: str, title: str, updated: str, parent: str | None = None) -> str:
    thr = f'<thr:in-reply-to ref="urn:x" href="{BASE}/{parent}/"/>' if parent else ""
    return (
        f"<entry><author><name>Dana</name><email>dana@example.org</email></author>"
        f"<title>{title}</title><updated>{updated}</updated>"
        f'<link href="{BASE}/{mid}/"/><id>urn:uuid:{mid}</id>{thr}</entry>'
    )


def feed(*entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="us-ascii"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:thr="http://purl.org/syndication/thread/1.0">'
        "<title>coco</title>" + "".join(entries) + "</feed>"
    ).encode()


def test_feed_names_each_patch_thread_once_by_its_top() -> None:
    data = feed(  # newest first, as public-inbox writes it
        entry("r1@x", "Re: [PATCH 1/2] a: b", "2026-12-01T10:05:00Z", "p1@x"),
        entry("p2@x", "[PATCH 2/2] a: c", "2026-12-01T10:00:02Z", "c@x"),
        entry("p1@x", "[PATCH 1/2] a: b", "2026-12-01T10:00:01Z", "c@x"),
        entry("c@x", "[PATCH 0/2] a: the series", "2026-12-01T10:00:00Z"),
        entry("q@x", "question about the stats page", "2026-12-01T09:00:00Z"),
        entry("o%2Bplus@x", "[RFC PATCH] lone: escaped id", "2026-12-01T08:00:00Z"),
    )
    entries = parse_feed(data)
    assert entries[0].message_id == "o+plus@x"  # oldest first, unescaped
    assert entries[-1].in_reply_to == "p1@x"
    assert patch_threads(entries) == ["o+plus@x", "c@x"]  # no reply, no plain mail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<feed", "malformed Atom feed"),
        (b"<rss/>", "not an Atom feed (root element 'rss')"),
        (feed("<entry><title>[PATCH] x</title></entry>"), "an entry has no link"),
    ],
)
def test_a_broken_feed_is_an_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_feed(data, "new.atom")


def series_of(*mails: bytes):
    data = b"".join(b"From x Thu Jan  1 00:00:00 1970\n" + m.rstrip(b"\n") + b"\n\n" for m in mails)
    return assemble(messages_from_bytes(data, "t.mbox"), "t.mbox"), data


def test_revisions_share_a_key_and_differ_in_digest() -> None:
    v1, data = series_of(*fixture_mails("v1"))
    v2, _ = series_of(*fixture_mails("v2"))
    assert (
        series_key(v1)
        == series_key(v2)
        == ("dana@example.org:virtio-balloon: share the stats page with the host")
    )
    assert (series_version(v1), series_version(v2)) == (1, 2)
    assert revision(v1) != revision(v2) and revision(v1) == revision(
        series_of(*fixture_mails("v1"))[0]
    )
    assert complete(v1) and not complete(series_of(*fixture_mails("v1")[:2])[0])
    heads = header_index(data)
    assert heads[V1_COVER].to == ["coco@example.org"] and heads[V1_COVER].references == []
    assert V2_COVER not in heads


def test_change_id_wins_over_author_and_title() -> None:
    cover = fixture_mails("v1")[0].replace(
        b"\n\nDana Author (2):", b"\n\nchange-id: 20261201-stats-page-3f1e\n\nDana Author (2):"
    )
    series, _ = series_of(cover, *fixture_mails("v1")[1:])
    assert series_key(series) == "change-id:20261201-stats-page-3f1e"


def test_ledger_keeps_one_row_per_message_id_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        args: dict[str, Any] = dict(
            in_reply_to="<p@x>", series_key="k", list_addr="l@x", raw=b"m", rcpts=["a@x"]
        )
        assert ledger.enqueue("<m1@x>", **args) is True
        assert ledger.enqueue("<m1@x>", **{**args, "raw": b"other"}) is False
        ledger.mark_sending("<m1@x>")
        ledger.mark_failed("<m1@x>", "451 busy", uncertain=True)
        ledger.record_review("k", "rev1")
    with Ledger(path) as again:  # a new process after a crash sees every write
        row = again.get("<m1@x>")
        assert row is not None and (row.state, row.attempts, row.uncertain) == ("queued", 1, True)
        assert row.raw == b"m" and row.last_error == "451 busy"
        assert again.reviewed("k", "rev1") and not again.reviewed("k", "rev2")
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE replies SET state = 'lost'")  # the schema allows only known states


def test_ledger_on_an_unusable_path_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notadb").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match=r"ledger .*notadb"):
        Ledger(tmp_path / "notadb")


def test_lists_are_opt_in_and_caps_count_what_went_out(tmp_path: Path) -> None:
    on = ListPolicy("coco@example.org", send=True, max_per_series=2, max_per_hour=1)
    off = ListPolicy("quiet@example.org")
    lists = {on.address: on, off.address: off}
    assert choose_list(["dana@example.org", "coco@example.org"], lists).allowed
    assert not choose_list(["quiet@example.org"], lists).allowed
    assert "muted by default" in choose_list(["other@example.org"], lists).reason
    with Ledger(tmp_path / "l.sqlite") as ledger:
        for n in (1, 2):
            ledger.enqueue(
                f"<m{n}@x>",
                in_reply_to="<p@x>",
                series_key="s",
                list_addr=on.address,
                raw=b"m",
                rcpts=[on.address],
            )
        assert not may_queue(ledger, on, "s").allowed and may_queue(ledger, on, "t").allowed
        assert may_send_now(ledger, on).allowed
        ledger.mark_sent("<m1@x>")
        assert not may_send_now(ledger, on).allowed
        assert may_send_now(ledger, on, now=time.time() + 3601).allowed  # an hour later
