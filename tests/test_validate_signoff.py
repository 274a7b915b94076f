"""validate --kernel: which patches expect a Signed-off-by (X-Patchbot-Generated header).

The header is read from the parsed mail, so a generated series piped on stdin or
fetched from an archive is judged as the same files on disk are (it used to be read
only from the input files, so `validate --kernel -` reported MISSING_SIGN_OFF on
patches patchbot itself had left unsigned on purpose).
"""

from __future__ import annotations

import io

import pytest

from patchbot.generate.marker import GENERATED_HEADER, generated_value
from patchbot.validate.apply import read_series
from patchbot.validate.kernel import kernel_patches

_DIFF = (
    "---\n drivers/demo.c | 1 +\n\n"
    "diff --git a/drivers/demo.c b/drivers/demo.c\n"
    "--- a/drivers/demo.c\n+++ b/drivers/demo.c\n"
    "@@ -1,2 +1,3 @@\n int a;\n+int b;\n int c;\n"
)


def _mail(n: int, header: str | None) -> str:
    extra = f"{header}\n" if header is not None else ""
    return (
        f"From {n:040x} Mon Sep 17 00:00:00 2001\n"
        "From: Dana Author <dana@example.org>\n"
        f"Subject: [PATCH {n}/3] demo: step {n}\n"
        f"{extra}\n"
        f"Step {n} of the demo, because the next step needs it.\n\n" + _DIFF + "\n"
    )


@pytest.mark.parametrize("from_stdin", [True, False])
def test_only_a_patch_generated_without_signoff_expects_none(tmp_path, from_stdin) -> None:
    text = (
        _mail(1, f"{GENERATED_HEADER}: {generated_value('virtio-mem-coco', False)}")
        + _mail(2, f"{GENERATED_HEADER}: {generated_value('virtio-mem-coco', True)}")
        + _mail(3, None)
    )
    if from_stdin:
        series = read_series(["-"], stdin=io.BytesIO(text.encode()))
    else:
        path = tmp_path / "series.mbox"
        path.write_text(text)
        series = read_series([str(path)])
    patches = kernel_patches(series)
    assert [(p.label, p.signoff_expected) for p in patches] == [
        ("1/3", False),
        ("2/3", True),
        ("3/3", True),
    ]
    # git am drops X- headers: the mail validate applies does not carry it
    assert all(GENERATED_HEADER not in p.mbox for p in patches)


def test_a_folded_or_encoded_header_is_read_as_one_command() -> None:
    folded = f"{GENERATED_HEADER}: patchbot generate series\n virtio-mem-coco --signoff"
    encoded = f"{GENERATED_HEADER}: =?utf-8?q?patchbot_generate_series_heap?="
    text = _mail(1, folded) + _mail(2, encoded) + _mail(3, None)
    patches = kernel_patches(read_series(["-"], stdin=io.BytesIO(text.encode())))
    assert [p.signoff_expected for p in patches] == [True, False, True]
