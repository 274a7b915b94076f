"""The shortcuts that make loading a series cheap must not change what is loaded:
split_mbox() against the line-by-line split, the diff parser's inline DiffLines against
the dataclass, sparse_source()'s one pass against FileDiff.added_lines(), and the
collector policy against the collector's own bookkeeping."""

from __future__ import annotations

import dataclasses
import gc
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from patchbot.series.diffparse import parse_diff
from patchbot.series.gcpolicy import fewer_collections
from patchbot.series.images import sparse_source
from patchbot.series.mail import _split_mbox_by_line, split_mbox
from patchbot.series.model import DiffLine

_MBOX_PIECES = [
    b"From 1a2b3c Mon Sep 17 00:00:00 2001\n",
    b"From dev@example.org  Tue Nov  3 10:00:00 2026\n",
    b"From x  Tue\n",
    b"From xy Sun",
    b"From z\tWed 1\n",
    b"From a\nMon\n",  # the weekday on the next line: no separator
    b"From: dev@example.org\n",
    b">From q Mon\n",
    b"From ",
    b"Subject: [PATCH] x\n",
    b"body line\n",
    b"\n",
    b"  \n",
    b"\t\n",
    b"\n\n",
    b"x",
]


@settings(max_examples=600, deadline=None)
@given(pieces=st.lists(st.sampled_from(_MBOX_PIECES), max_size=14))
def test_mbox_split_agrees_with_the_line_by_line_split(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    assert split_mbox(data) == _split_mbox_by_line(data)


def test_mbox_split_finds_every_message() -> None:
    one = b"From: a@example.org\nSubject: one\n\nbody\nFrom the start, see\n"
    two = b"From: b@example.org\nSubject: two\n\nbody\nFrom x Mon: no blank line before\n"
    data = b"From 1 Mon Sep 17 00:00:00 2001\n" + one + b"\nFrom 2 Tue Sep 18 2001\n" + two
    assert split_mbox(data) == [
        (b"From 1 Mon Sep 17 00:00:00 2001", one + b"\n"),
        (b"From 2 Tue Sep 18 2001", two),
    ]
    crlf = data.replace(b"\n", b"\r\n")  # the line-by-line split handles \r endings
    assert [sep for sep, _ in split_mbox(crlf)] == [sep for sep, _ in split_mbox(data)]


DIFF = """diff --git a/drivers/x.c b/drivers/x.c
--- a/drivers/x.c
+++ b/drivers/x.c
@@ -10,4 +10,5 @@ static int x_probe(struct device *dev)
 \tint ret;
-\tret = x_setup(dev);
+\tret = x_setup(dev, 0);
+\tif (ret)
 \t\treturn ret;
 \treturn 0;
@@ -40,2 +41,3 @@
 }
+
 static void x_remove(void)
"""


def test_parsed_lines_are_ordinary_difflines() -> None:
    lines = [ln for hunk in parse_diff(DIFF).files[0].hunks for ln in hunk.lines]
    assert [(ln.kind, ln.old_no, ln.new_no) for ln in lines] == [
        (" ", 10, 10),
        ("-", 11, None),
        ("+", None, 11),
        ("+", None, 12),
        (" ", 12, 13),
        (" ", 13, 14),
        (" ", 40, 41),
        ("+", None, 42),
        (" ", 41, 43),
    ]
    for ln in lines:
        twin = DiffLine(ln.kind, ln.text, ln.old_no, ln.new_no)
        assert ln == twin and hash(ln) == hash(twin) and repr(ln) == repr(twin)
        assert pickle.loads(pickle.dumps(ln)) == twin
        assert dataclasses.replace(ln, text="y") == DiffLine(ln.kind, "y", ln.old_no, ln.new_no)
        try:
            ln.text = "changed"  # type: ignore[misc]
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError("a parsed DiffLine must stay frozen")


@settings(max_examples=200, deadline=None)
@given(
    body=st.lists(st.sampled_from(["+a", "-b", " c", "+", " ", "-"]), min_size=1, max_size=12),
    start=st.integers(1, 50),
)
def test_sparse_images_gather_the_added_lines(body: list[str], start: int) -> None:
    olds = sum(1 for ln in body if ln[0] != "+")
    news = sum(1 for ln in body if ln[0] != "-")
    diff = "--- a/f.c\n+++ b/f.c\n" + f"@@ -{start},{olds} +{start},{news} @@\n"
    fd = parse_diff(diff + "\n".join(body) + "\n").files[0]
    source = sparse_source(fd)
    assert source.added == frozenset(fd.added_lines())
    post = source.text.split("\n")
    assert all(post[no - 1] == text for no, text in fd.added_lines().items())


def test_fewer_collections_raises_the_threshold_then_files_objects_as_old() -> None:
    before = gc.get_threshold()
    with fewer_collections(before[0] + 12_345):
        assert gc.get_threshold()[0] == before[0] + 12_345
        kept = [[i] for i in range(5_000)]  # tracked objects the block leaves alive
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # nothing stays frozen
    assert gc.get_count()[0] < 1_000  # not left young: the next collection skips them
    assert all(gc.is_tracked(item) for item in kept[:10])


def test_cyclic_garbage_made_under_the_policy_is_still_collected() -> None:
    with fewer_collections(1_000_000):
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
    assert gc.collect() >= 1  # filed as old, not frozen: a full collection frees it


def test_a_callers_frozen_objects_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with fewer_collections(100_000):
            [[i] for i in range(100)]
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
