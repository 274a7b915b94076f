"""Property-based tests: the parsers never crash or stall, and diffs round-trip."""

from __future__ import annotations

import difflib
import io
import time

from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchbot.errors import InputError
from patchbot.series.apply import apply_hunks
from patchbot.series.diffparse import parse_diff
from patchbot.series.images import source_files
from patchbot.series.load import load_series
from patchbot.series.model import Patch

MBOX = (FIXTURES / "series" / "coco-v3-shuffled.mbox").read_bytes()
PROFILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_or_refuse(data: bytes) -> None:
    """Loading must either succeed (and build images) or raise InputError, quickly."""
    began = time.monotonic()
    try:
        series = load_series(["-"], stdin=io.BytesIO(data), max_bytes=1 << 20)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert series.patches
        for patch in series.patches:
            _assert_encodable(patch)
            for src in source_files(series, patch):
                assert len(src.lines) < 2_000_000
                src.text.encode("utf-8")
    assert time.monotonic() - began < 5


def _assert_encodable(patch: Patch) -> None:
    """Every text a report prints must be valid Unicode (no lone surrogates)."""
    texts = [patch.subject, patch.title, patch.author_name, patch.author_email, patch.date]
    texts += [patch.message_id, patch.body, patch.notes, patch.diff_text, *patch.warnings]
    texts += [f"{t.key}: {t.value}" for t in patch.trailers]
    for fd in patch.files:
        texts += [fd.path, *(ln.text for h in fd.hunks for ln in h.lines)]
    for text in texts:
        text.encode("utf-8")


@PROFILE
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash(data: bytes) -> None:
    _load_or_refuse(data)


@PROFILE
@given(st.binary(max_size=2048))
def test_random_bytes_after_mail_headers_never_crash(data: bytes) -> None:
    _load_or_refuse(b"From: a@b\nSubject: [PATCH 1/1] x\n\n---\ndiff --git a/x.c b/x.c\n" + data)


_MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "insert", "flip", "truncate"]),
        st.integers(min_value=0, max_value=len(MBOX)),
        st.binary(min_size=1, max_size=40),
    ),
    min_size=1,
    max_size=12,
)


@PROFILE
@given(_MUTATIONS)
def test_mutated_series_never_crash(mutations: list[tuple[str, int, bytes]]) -> None:
    lines = MBOX.split(b"\n")
    for kind, where, blob in mutations:
        k = where % max(len(lines), 1)
        if kind == "delete" and lines:
            del lines[k]
        elif kind == "duplicate" and lines:
            lines.insert(k, lines[k])
        elif kind == "insert":
            lines.insert(k, blob)
        elif kind == "flip" and lines:
            lines[k] = bytes(b ^ blob[0] for b in lines[k])
        elif kind == "truncate":
            lines = lines[: k + 1]
    _load_or_refuse(b"\n".join(lines))


_LINE = st.sampled_from(
    ["{", "}", "", "\tret = 0;", "\tgoto err;", "err:", "\tkfree(p);", "\treturn ret;", "x", " "]
)


@PROFILE
@given(st.lists(_LINE, max_size=60), st.lists(_LINE, max_size=60), st.integers(0, 5))
def test_difflib_diffs_round_trip(old: list[str], new: list[str], context: int) -> None:
    diff = "".join(
        difflib.unified_diff(
            [line + "\n" for line in old],
            [line + "\n" for line in new],
            "a/f.c",
            "b/f.c",
            n=context,
        )
    )
    parsed = parse_diff(diff)
    assert not parsed.warnings
    if old == new:
        assert parsed.files == []
        return
    (fd,) = parsed.files
    for hunk in fd.hunks:
        for ln in hunk.lines:
            if ln.new_no is not None:
                assert new[ln.new_no - 1] == ln.text
            if ln.old_no is not None:
                assert old[ln.old_no - 1] == ln.text
    applied = apply_hunks(old, fd.hunks)
    assert applied.ok and applied.lines == new


_DIFF_LINE = st.one_of(
    _LINE.map(lambda s: " " + s),
    _LINE.map(lambda s: "+" + s),
    _LINE.map(lambda s: "-" + s),
    st.sampled_from(
        [
            "@@ -1,3 +1,4 @@",
            "@@ -0,0 +1 @@",
            "@@ -5 +5,0 @@ f()",
            "@@ -99999999,2 +1,99999999 @@",
            "--- a/f.c",
            "+++ b/f.c",
            "diff --git a/f.c b/f.c",
            "diff --git a/../x b/../x",
            "new file mode 100644",
            "deleted file mode 100644",
            "rename from f.c",
            "rename to g.c",
            "GIT binary patch",
            "\\ No newline at end of file",
            "-- ",
            "",
        ]
    ),
    st.text(max_size=20),
)


@PROFILE
@given(st.lists(_DIFF_LINE, max_size=80), st.lists(_LINE, max_size=40))
def test_diff_like_garbage_parses_and_applies_without_raising(
    lines: list[str], old: list[str]
) -> None:
    began = time.monotonic()
    parsed = parse_diff("\n".join(lines))
    for fd in parsed.files:
        assert fd.path and not fd.path.startswith("/") and ".." not in fd.path.split("/")
        result = apply_hunks(old, fd.hunks)
        if result.ok:
            assert all(1 <= n <= len(result.lines) for n in result.added)
    assert time.monotonic() - began < 5
