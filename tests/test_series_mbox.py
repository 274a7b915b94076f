"""Series input from mail: mboxes, format-patch directories, stdin, MIME, headers."""

from __future__ import annotations

import base64
import io
import quopri
from pathlib import Path

import pytest
from conftest import FIXTURES

from patchbot.series.commitmsg import parse_subject
from patchbot.series.load import load_series
from patchbot.series.mail import split_mbox

SERIES = FIXTURES / "series"
PATCH_DIR = SERIES / "coco-v3"
TITLES = [
    "virtio-coco-mem: share regions with the host",
    "virtio-coco-mem: leak regions that cannot be re-encrypted",
    "virtio-coco-mem: count the registered regions",
    "virtio-coco-mem: use guard(mutex) when counting regions",
    "virtio-coco-mem: share new regions before publishing them",
]


def _patch_file(n: int) -> Path:
    return sorted(PATCH_DIR.glob(f"v3-000{n}-*.patch"))[0]


def test_shuffled_mbox_is_ordered_with_cover_and_reply_skipped() -> None:
    series = load_series([str(SERIES / "coco-v3-shuffled.mbox")])
    assert [p.title for p in series.patches] == TITLES
    assert [p.label for p in series.patches] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert series.cover is not None and series.cover.is_cover
    assert series.cover.title == "virtio-coco-mem: share regions with the host safely"
    assert series.cover.number == 0
    skipped = [w for w in series.warnings if w.startswith("skipped reply")]
    assert len(skipped) == 1 and "2/5" in skipped[0]
    assert all(p.applicable and not p.warnings for p in series.patches)


def test_patch_fields_from_format_patch_mail() -> None:
    series = load_series([str(SERIES / "coco-v3-shuffled.mbox")])
    second = series.patches[1]
    assert second.subject == (
        "[PATCH v3 2/5] virtio-coco-mem: leak regions that cannot be re-encrypted"
    )
    assert (second.version, second.number, second.total, second.tags) == (3, 2, 5, ["PATCH"])
    assert (second.author_name, second.author_email) == ("Alice Example", "alice@example.org")
    assert second.date == "Tue, 3 Nov 2026 09:05:00 +0000"
    assert second.message_id.startswith("d23cc38389763a2e974945e57d72d6f0604defa8.")
    assert second.in_reply_to == "cover.1795382383.git.alice@example.org"
    assert second.body.startswith("Freeing pages that are still shared")
    assert "---" not in second.body
    assert [(t.key, t.line) for t in second.trailers] == [("Fixes", 5), ("Signed-off-by", 6)]
    body_lines = second.body.split("\n")
    for trailer in second.trailers:
        assert body_lines[trailer.line - 1].startswith(f"{trailer.key}: {trailer.value}")
    assert "1 file changed, 11 insertions(+)" in second.notes
    assert second.diff_text.startswith("diff --git a/drivers/virtio/virtio_coco_mem.c")
    assert "2.39.5" not in second.diff_text
    (fd,) = second.files
    assert fd.old_path == fd.new_path == "drivers/virtio/virtio_coco_mem.c"
    (hunk,) = fd.hunks
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (59, 6, 59, 17)
    assert hunk.section == "static int coco_region_share(struct coco_region *region)"
    added = fd.added_lines()
    assert sorted(added) == list(range(62, 73))
    assert added[68] == "\tif (region->shared && set_memory_encrypted(addr, 1 << region->order)) {"


def test_format_patch_directory_reads_patch_files_in_order() -> None:
    series = load_series([str(PATCH_DIR)])
    assert [p.title for p in series.patches] == TITLES
    assert series.cover is not None
    assert series.patches[0].source == _patch_file(1).name


def test_directory_without_patch_suffix_reads_files_that_parse_as_mail(tmp_path: Path) -> None:
    for n in (2, 1):
        (tmp_path / f"msg{n}").write_bytes(_patch_file(n).read_bytes())
    (tmp_path / "README").write_text("notes about this series, not a mail\n")
    series = load_series([str(tmp_path)])
    assert [p.number for p in series.patches] == [1, 2]


def test_several_inputs_are_concatenated_and_stdin_is_read() -> None:
    stdin = io.BytesIO(_patch_file(3).read_bytes())
    series = load_series([str(_patch_file(2)), "-", str(_patch_file(1))], stdin=stdin)
    assert [p.number for p in series.patches] == [1, 2, 3]
    assert series.patches[2].source == "stdin"


@pytest.mark.parametrize(
    ("subject", "tags", "version", "number", "total", "title", "reply"),
    [
        ("[RFC PATCH] mm: add a thing", ["RFC", "PATCH"], 1, None, None, "mm: add a thing", False),
        ("[PATCH RFC v4 10/44] x86/tdx: foo", ["PATCH", "RFC"], 4, 10, 44, "x86/tdx: foo", False),
        ("[PATCH net-next v2 3/5] net: bar", ["PATCH", "net-next"], 2, 3, 5, "net: bar", False),
        ("[RFC][PATCH 2/3] a: b", ["RFC", "PATCH"], 1, 2, 3, "a: b", False),
        ("Re: [PATCH v3 2/7] virtio: x", ["PATCH"], 3, 2, 7, "virtio: x", True),
        ("RE: [PATCH 1/2] y", ["PATCH"], 1, 1, 2, "y", True),
        ("Aw: [PATCH] z", ["PATCH"], 1, None, None, "z", True),
        ("re: Re: [PATCH] z", ["PATCH"], 1, None, None, "z", True),
        ("Refactor the foo", [], 1, None, None, "Refactor the foo", False),
    ],
)
def test_subject_prefixes(
    subject: str,
    tags: list[str],
    version: int,
    number: int | None,
    total: int | None,
    title: str,
    reply: bool,
) -> None:
    got = parse_subject(subject)
    assert (got.tags, got.version, got.number, got.total, got.title, got.is_reply) == (
        tags,
        version,
        number,
        total,
        title,
        reply,
    )


def _header_block(subject: str, extra: str = "") -> str:
    return (
        "From: Alice Example <alice@example.org>\n"
        "Date: Tue, 3 Nov 2026 09:05:00 +0000\n"
        f"Subject: {subject}\n"
        "Message-Id: <m1@example.org>\n"
        "MIME-Version: 1.0\n" + extra
    )


def _mail_body(n: int) -> str:
    """The body of fixture patch n (after its headers)."""
    return _patch_file(n).read_text().split("\n\n", 1)[1]


def test_mboxrd_from_lines_are_unescaped(tmp_path: Path) -> None:
    body = _mail_body(2).replace(
        "leak the pages instead.\n", "leak the pages instead.\n>From now on nothing leaks.\n"
    )
    mbox = (
        "From mboxrd@z Thu Jan  1 00:00:00 1970\n"
        + _header_block("[PATCH 1/1] virtio-coco-mem: leak")
        + "\n"
        + body
    )
    path = tmp_path / "rd.mbox"
    path.write_text(mbox)
    (patch,) = load_series([str(path)]).patches
    assert "\nFrom now on nothing leaks." in patch.body
    assert ">From" not in patch.body


def test_folded_and_rfc2047_headers(tmp_path: Path) -> None:
    raw = (
        "From: =?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.de>\n"
        "Date: Tue, 3 Nov 2026 09:05:00 +0000\n"
        "Subject: =?utf-8?b?W1BBVENIIHYyIDEvMV0gdmlydGlvLWNvY28tbWVtOiBmaXg=?=\n"
        " =?utf-8?q?_the_l=C3=A9ak?=\n"
        "Message-Id:\n <folded@example.org>\n"
        "\n" + _mail_body(2)
    )
    path = tmp_path / "enc.eml"
    path.write_bytes(raw.encode())
    (patch,) = load_series([str(path)]).patches
    assert patch.author_name == "Jörg Müller"
    assert patch.title == "virtio-coco-mem: fix the léak"
    assert (patch.version, patch.number, patch.total) == (2, 1, 1)
    assert patch.message_id == "folded@example.org"
    assert patch.files and not patch.warnings


def test_bad_charsets_are_replaced_with_a_warning(tmp_path: Path) -> None:
    raw = (
        b"From: =?x-klingon?q?Q=FFapla?= <k@example.org>\n"
        b"Subject: =?utf-8?q?[PATCH]_bad_=FF=FE_bytes?=\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"\n" + _mail_body(2).encode().replace(b"host-visible", b"host\xff\xfevisible")
    )
    path = tmp_path / "bad.eml"
    path.write_bytes(raw)
    (patch,) = load_series([str(path)]).patches
    assert "\ufffd" in patch.title and "\ufffd" in patch.body
    assert any("x-klingon" in w for w in patch.warnings)
    assert any("not valid utf-8" in w for w in patch.warnings)
    assert patch.files[0].hunks


def _multipart(parts: list[str]) -> str:
    out = _header_block(
        "[PATCH 1/1] virtio-coco-mem: leak", 'Content-Type: multipart/mixed; boundary="BOUND"\n'
    )
    out += "\nThis is a multi-part message in MIME format.\n"
    for part in parts:
        out += "--BOUND\n" + part
    return out + "--BOUND--\n"


def test_multipart_with_base64_patch_attachment_and_binary_attachment(tmp_path: Path) -> None:
    body = _mail_body(2)
    message, _, diff_part = body.partition("\n---\n")
    encoded = base64.encodebytes(("---\n" + diff_part).encode()).decode()
    raw = _multipart(
        [
            "Content-Type: text/plain; charset=utf-8\n\n" + message + "\n",
            "Content-Type: text/x-patch; name=fix.patch\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=fix.patch\n\n" + encoded,
            "Content-Type: image/png; name=shot.png\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=shot.png\n\n"
            + base64.encodebytes(b"\x89PNG\r\n\x1a\n\x00\x00").decode(),
        ]
    )
    path = tmp_path / "mime.eml"
    path.write_text(raw)
    (patch,) = load_series([str(path)]).patches
    assert [t.key for t in patch.trailers] == ["Fixes", "Signed-off-by"]
    assert sorted(patch.files[0].added_lines()) == list(range(62, 73))
    assert any("image/png" in w and "shot.png" in w for w in patch.warnings)


def test_quoted_printable_body(tmp_path: Path) -> None:
    encoded = quopri.encodestring(_mail_body(2).encode()).decode()
    raw = (
        _header_block(
            "[PATCH] virtio-coco-mem: leak",
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n",
        )
        + "\n"
        + encoded
    )
    assert "=3D" in encoded or "=09" in encoded  # really encoded
    path = tmp_path / "qp.eml"
    path.write_text(raw)
    (patch,) = load_series([str(path)]).patches
    added = patch.files[0].added_lines()
    assert added[62] == "\tunsigned long addr = (unsigned long)page_address(region->pages);"
    assert not patch.warnings


def test_mbox_separator_needs_a_date_and_a_blank_line_before() -> None:
    data = (
        b"From abc Mon Sep 17 00:00:00 2001\nSubject: one\n\nbody\n"
        b"From the start this body line is text\n\n"
        b"From xyz Tue Sep 18 00:00:00 2001\nSubject: two\n\nbody\n"
    )
    chunks = split_mbox(data)
    assert [sep for sep, _ in chunks] == [
        b"From abc Mon Sep 17 00:00:00 2001",
        b"From xyz Tue Sep 18 00:00:00 2001",
    ]
    assert b"From the start" in chunks[0][1]


def test_mixed_versions_keep_the_newest(tmp_path: Path) -> None:
    old = _patch_file(1).read_text().replace("[PATCH v3 1/5]", "[PATCH v2 1/5]")
    (tmp_path / "a.mbox").write_text(old + "\n" + _patch_file(1).read_text())
    series = load_series([str(tmp_path / "a.mbox")])
    assert [(p.version, p.number) for p in series.patches] == [(3, 1)]
    assert any("mixes versions [2, 3]" in w for w in series.warnings)


def test_plain_diff_without_mail_headers(tmp_path: Path) -> None:
    diff = _mail_body(2).split("\n---\n", 1)[1]
    path = tmp_path / "plain.diff"
    path.write_text(diff)
    (patch,) = load_series([str(path)]).patches
    assert patch.title == "plain.diff"
    assert patch.files[0].path == "drivers/virtio/virtio_coco_mem.c"


def test_raw_8bit_headers_are_decoded_as_utf8_or_replaced(tmp_path: Path) -> None:
    diff = "---\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-int a;\n+int b;\n"
    good = f"From: J\u00f6rg <j@example.de>\nSubject: [PATCH] fix f\u00fcr x\n\nmsg\n{diff}"
    (patch,) = load_series([_write_bytes(tmp_path, "u.eml", good.encode())]).patches
    assert (patch.author_name, patch.title, patch.warnings) == ("J\u00f6rg", "fix f\u00fcr x", [])
    bad = good.replace("J\u00f6rg", "J").encode("latin-1")
    (patch,) = load_series([_write_bytes(tmp_path, "l.eml", bad)]).patches
    assert patch.title == "fix f\ufffdr x"
    assert any("Subject header is not valid utf-8" in w for w in patch.warnings)


def _write_bytes(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


def test_git_format_patch_from_lines_are_not_unescaped(tmp_path: Path) -> None:
    text = _patch_file(2).read_text()
    quoted = text.replace("leak the pages instead.\n", "leak the pages instead.\n>From a quote.\n")
    (patch,) = load_series([_write_bytes(tmp_path, "g.patch", quoted.encode())]).patches
    assert "\n>From a quote." in patch.body
