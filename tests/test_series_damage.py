"""Damaged and hostile input: repaired with a warning, or refused with one clear line."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import FIXTURES

from patchbot.errors import InputError
from patchbot.series.diffparse import parse_diff
from patchbot.series.images import source_files
from patchbot.series.load import load_series

SERIES = FIXTURES / "series"
PATCH_DIR = SERIES / "coco-v3"
LEAK_ADDED = list(range(62, 73))  # post-image lines patch 2/5 adds


def _patch_text(n: int) -> str:
    return sorted(PATCH_DIR.glob(f"v3-000{n}-*.patch"))[0].read_text()


def _write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def _mail(diff: str, subject: str = "[PATCH] virtio-coco-mem: test") -> str:
    return (
        "From: Alice Example <alice@example.org>\n"
        f"Subject: {subject}\n\n"
        "A commit message.\n\nSigned-off-by: Alice Example <alice@example.org>\n---\n" + diff
    )


@pytest.mark.parametrize(
    "name",
    [
        "review-reply.eml",
        "review-reply-nested.eml",
        # a reply to the review: the first reviewer's "> " comment sits inside the
        # "> > " hunk and must not become a context line
        "review-reply-nested-inline.eml",
    ],
)
def test_quoted_review_reply_is_unquoted_and_marked_not_applicable(name: str) -> None:
    (patch,) = load_series([str(SERIES / name)]).patches
    assert not patch.applicable
    assert any("quoted" in w for w in patch.warnings)
    assert not any("mangled" in w for w in patch.warnings)
    (fd,) = patch.files
    assert sorted(fd.added_lines()) == LEAK_ADDED  # reviewer's comment did not split it
    assert fd.hunks[0].lines[0].text == ""  # quoted blank context line survived
    assert not any("recounted" in w for w in patch.warnings)


def test_context_lines_that_lost_their_space_are_repaired(tmp_path: Path) -> None:
    lines = _patch_text(2).split("\n")
    start = next(k for k, line in enumerate(lines) if line.startswith("@@ "))
    mangled = [
        line[1:] if k > start and line.startswith(" ") else line for k, line in enumerate(lines)
    ]
    (patch,) = load_series([_write(tmp_path, "m.patch", "\n".join(mangled))]).patches
    assert not patch.applicable
    assert any("whitespace-mangled" in w for w in patch.warnings)
    fd = patch.files[0]
    assert sorted(fd.added_lines()) == LEAK_ADDED
    assert [ln.new_no for ln in fd.hunks[0].lines if ln.kind == " "] == [59, 60, 61, 73, 74, 75]


def test_tabs_turned_into_spaces_apply_with_whitespace_fuzz(tmp_path: Path) -> None:
    text = _patch_text(1)
    head, diff = text.split("\ndiff --git", 1)
    path = _write(tmp_path, "t.patch", head + "\ndiff --git" + diff.replace("\t", "        "))
    series = load_series([path], tree=str(SERIES / "tree"))
    (patch,) = series.patches
    (src,) = source_files(series, patch)
    assert src.complete
    assert not patch.applicable
    assert any("whitespace ignored" in w for w in patch.warnings)
    # context keeps the tree's own text (tabs); added lines are as mailed
    assert src.lines[43] == "\treturn NULL;"
    assert src.lines[46] == "static int coco_region_share(struct coco_region *region)"
    spaced = "        unsigned long addr = (unsigned long)page_address(region->pages);"
    assert src.lines[48] == spaced


@pytest.mark.parametrize(
    ("header", "why"), [("+59,12", "wrong line counts"), ("+59,30", "shorter")]
)
def test_wrong_hunk_counts_are_recounted(tmp_path: Path, header: str, why: str) -> None:
    text = _patch_text(2).replace("@@ -59,6 +59,17 @@", f"@@ -59,6 {header} @@")
    (patch,) = load_series([_write(tmp_path, "c.patch", text)]).patches
    hunk = patch.files[0].hunks[0]
    assert (hunk.old_len, hunk.new_len) == (6, 17)
    assert sorted(patch.files[0].added_lines()) == LEAK_ADDED
    assert any(why in w and "recounted" in w for w in patch.warnings)
    assert not patch.applicable


def test_truncated_mbox_lints_what_is_complete(tmp_path: Path) -> None:
    mbox = "\n".join(_patch_text(n) for n in range(1, 6))
    cut = mbox.index("+\tret = coco_region_share(region);") + 10
    series = load_series([_write(tmp_path, "cut.mbox", mbox[:cut])])
    assert [p.number for p in series.patches] == [1, 2, 3, 4, 5]
    assert all(p.applicable for p in series.patches[:4])
    last = series.patches[4]
    assert not last.applicable
    assert any("shorter than its header" in w for w in last.warnings)
    added = last.files[0].added_lines()
    assert added[81] == "\tint ret;"
    assert max(added) == 87  # the line cut in the middle is kept as far as it goes


@pytest.mark.parametrize(
    "bad", ["a/../../etc/passwd", "/etc/passwd", "a/drivers/../../x.c", "../x.c"]
)
def test_paths_escaping_the_tree_are_dropped(tmp_path: Path, bad: str) -> None:
    evil = f"--- {bad}\n+++ {bad}\n@@ -1,1 +1,1 @@\n-root:x:0\n+root::0\n"
    good = "--- a/ok.c\n+++ b/ok.c\n@@ -1 +1 @@\n-int a;\n+int b;\n"
    (patch,) = load_series([_write(tmp_path, "e.patch", _mail(evil + good))]).patches
    assert [fd.path for fd in patch.files] == ["ok.c"]
    assert any("escapes the tree" in w for w in patch.warnings)
    with pytest.raises(InputError, match="nothing left to lint"):
        load_series([_write(tmp_path, "only.patch", _mail(evil))])


def test_empty_and_diffless_input_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^no patches found in .*empty\.mbox$"):
        load_series([_write(tmp_path, "empty.mbox", b"")])
    with pytest.raises(InputError, match=r"^no patches found in -$"):
        load_series(["-"], stdin=io.BytesIO(b"\n\n"))
    with pytest.raises(InputError, match="no patches found"):
        load_series([_write(tmp_path, "talk.eml", "Subject: hello\n\nJust talk.\n")])
    with pytest.raises(InputError, match="no such file"):
        load_series([str(tmp_path / "missing.mbox")])
    with pytest.raises(InputError, match="no input given"):
        load_series([])


class _EndlessStream(io.RawIOBase):
    """A stdin that never ends: reading it unbounded would never return."""

    def __init__(self) -> None:
        self.requested: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "stdin must be read with a cap"
        self.requested.append(size)
        return b"x" * size


def test_oversized_input_is_refused_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.mbox", _patch_text(1) * 40)
    size = Path(path).stat().st_size
    with pytest.raises(InputError, match=rf"{size} bytes, over the input limit of 1000 bytes"):
        load_series([path], max_bytes=1000)
    stream = _EndlessStream()
    with pytest.raises(InputError, match=r"standard input is 4097 bytes.*limit of 4096"):
        load_series(["-"], stdin=stream, max_bytes=4096)  # type: ignore[arg-type]
    assert stream.requested == [4097]
    # the limit is over all inputs together
    one = _write(tmp_path, "one.patch", _patch_text(1))
    limit = Path(one).stat().st_size * 2 - 1
    with pytest.raises(InputError, match="already read"):
        load_series([one, one], max_bytes=limit)


def test_nul_bytes_are_removed_with_a_warning(tmp_path: Path) -> None:
    data = _patch_text(2).encode().replace(b"leak the pages", b"leak\x00 the pages")
    (patch,) = load_series([_write(tmp_path, "nul.patch", data)]).patches
    assert "\x00" not in patch.body
    assert any("NUL" in w for w in patch.warnings)
    assert sorted(patch.files[0].added_lines()) == LEAK_ADDED


def test_absurd_hunk_numbers_neither_allocate_nor_hang(tmp_path: Path) -> None:
    diff = (
        "--- a/drivers/x.c\n+++ b/drivers/x.c\n"
        "@@ -1,99999999 +1,99999999 @@\n int a;\n-int b;\n+int c;\n"
        "@@ -99999990,1 +99999990,2 @@\n int d;\n+int e;\n"
    )
    path = _write(tmp_path, "absurd.patch", _mail(diff))
    tracemalloc.start()
    began = time.monotonic()
    series = load_series([path])
    (patch,) = series.patches
    (src,) = source_files(series, patch)
    elapsed = time.monotonic() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 5 << 20
    assert src.lines == ["int a;", "int c;"]
    assert any("beyond any real file" in w for w in patch.warnings)
    assert any("recounted" in w for w in patch.warnings)


def test_binary_new_deleted_renamed_and_no_newline() -> None:
    diff = (
        "diff --git a/fw/blob.bin b/fw/blob.bin\n"
        "new file mode 100644\n"
        "index 0000000..1111111\n"
        "GIT binary patch\n"
        "literal 12\n"
        "TcmZQzKn4H+0RR91Km`B*\n"
        "\n"
        "literal 0\n"
        "HcmV?d00001\n"
        "\n"
        "diff --git a/fw/old.bin b/fw/old.bin\n"
        "index 1111111..2222222 100644\n"
        "Binary files a/fw/old.bin and b/fw/old.bin differ\n"
        "diff --git a/drivers/new.c b/drivers/new.c\n"
        "new file mode 100644\n"
        "index 0000000..3333333\n"
        "--- /dev/null\n"
        "+++ b/drivers/new.c\n"
        "@@ -0,0 +1,2 @@\n"
        "+int a;\n"
        "+int b;\n"
        "\\ No newline at end of file\n"
        "diff --git a/drivers/gone.c b/drivers/gone.c\n"
        "deleted file mode 100644\n"
        "index 4444444..0000000\n"
        "--- a/drivers/gone.c\n"
        "+++ /dev/null\n"
        "@@ -1 +0,0 @@\n"
        "-int gone;\n"
        "diff --git a/drivers/old_name.c b/drivers/new_name.c\n"
        "similarity index 90%\n"
        "rename from drivers/old_name.c\n"
        "rename to drivers/new_name.c\n"
        "index 5555555..6666666 100644\n"
        "--- a/drivers/old_name.c\n"
        "+++ b/drivers/new_name.c\n"
        "@@ -2,3 +2,3 @@ static int f(void)\n"
        " {\n"
        "-\treturn 0;\n"
        "+\treturn 1;\n"
        " }\n"
        "diff --git a/drivers/moved.h b/drivers/moved2.h\n"
        "similarity index 100%\n"
        "rename from drivers/moved.h\n"
        "rename to drivers/moved2.h\n"
    )
    parsed = parse_diff(diff)
    assert not parsed.warnings
    got = [(f.old_path, f.new_path, f.is_binary, len(f.hunks)) for f in parsed.files]
    assert got == [
        (None, "fw/blob.bin", True, 0),
        ("fw/old.bin", "fw/old.bin", True, 0),
        (None, "drivers/new.c", False, 1),
        ("drivers/gone.c", None, False, 1),
        ("drivers/old_name.c", "drivers/new_name.c", False, 1),
        ("drivers/moved.h", "drivers/moved2.h", False, 0),
    ]
    assert parsed.files[2].added_lines() == {1: "int a;", 2: "int b;"}
    assert parsed.files[3].removed_lines() == {1: "int gone;"}
    renamed = parsed.files[4].hunks[0]
    assert [(ln.kind, ln.old_no, ln.new_no) for ln in renamed.lines] == [
        (" ", 2, 2),
        ("-", 3, None),
        ("+", None, 3),
        (" ", 4, 4),
    ]


def test_tabs_turned_into_spaces_are_suspected_without_a_tree(tmp_path: Path) -> None:
    text = _patch_text(5)
    head, diff = text.split("\ndiff --git", 1)
    mangled = head + "\ndiff --git" + diff.replace("\t", "        ")
    (patch,) = load_series([_write(tmp_path, "s.patch", mangled)]).patches
    assert not patch.applicable
    assert any("tabs turned into spaces" in w for w in patch.warnings)
    (clean,) = load_series([_write(tmp_path, "c.patch", text)]).patches
    assert clean.applicable and not clean.warnings


def test_undercounted_huge_hunk_is_parsed_in_linear_time() -> None:
    body = "".join(f"+\tline_{k}();\n" for k in range(60_000))
    diff = f"--- a/big.c\n+++ b/big.c\n@@ -0,0 +1,1 @@\n{body}"
    began = time.monotonic()
    parsed = parse_diff(diff)
    elapsed = time.monotonic() - began
    (fd,) = parsed.files
    assert len(fd.added_lines()) == 60_000 and fd.hunks[0].new_len == 60_000
    assert any("wrong line counts" in w for w in parsed.warnings)
    assert elapsed < 3


def test_git_header_paths_with_spaces_for_binary_and_rename_only() -> None:
    diff = (
        "diff --git a/fw/my blob.bin b/fw/my blob.bin\n"
        "index 1111111..2222222 100644\n"
        "Binary files a/fw/my blob.bin and b/fw/my blob.bin differ\n"
        "diff --git a/docs/old name.txt b/docs/new name.txt\n"
        "similarity index 100%\n"
        "rename from docs/old name.txt\n"
        "rename to docs/new name.txt\n"
    )
    got = [(f.old_path, f.new_path, f.is_binary) for f in parse_diff(diff).files]
    assert got == [
        ("fw/my blob.bin", "fw/my blob.bin", True),
        ("docs/old name.txt", "docs/new name.txt", False),
    ]


def test_a_numbered_message_without_a_diff_is_not_the_cover(tmp_path: Path) -> None:
    first = _patch_text(1)
    broken = _patch_text(2).split("\n---\n", 1)[0] + "\n"  # the diff got lost
    unnumbered = (
        "From: Alice Example <alice@example.org>\n"
        "Subject: [PATCH v3] virtio-coco-mem: the series\n\nCover text.\n"
    )
    series = load_series([_write(tmp_path, "a.mbox", first + "\n" + broken)])
    assert series.cover is None
    assert [p.number for p in series.patches] == [1]
    assert any("no diff" in w for w in series.warnings)
    series = load_series([_write(tmp_path, "b.mbox", first + "\n" + _mbox(unnumbered))])
    assert series.cover is not None and series.cover.title == "virtio-coco-mem: the series"


def _mbox(mail: str) -> str:
    return "From mboxrd@z Thu Jan  1 00:00:00 1970\n" + mail
