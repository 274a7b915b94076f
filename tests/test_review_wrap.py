"""The review reply reads like list mail: comments wrapped near 72 columns."""

from __future__ import annotations

from conftest import REPO

from patchbot.report.review import WRAP


def test_review_comments_are_wrapped_and_quotes_are_kept_whole(run_cli, kernel_tree):
    example = REPO / "examples" / "virtio-mem-coco-rfc.mbox"
    code, out, err = run_cli("lint", "--tree", str(kernel_tree), "--format", "review", str(example))
    assert code == 1, err
    comments = [ln for ln in out.splitlines() if ln and not ln.startswith(("> ", ">"))]
    headers = ("Subject:", "In-Reply-To:", "References:", "From ", "On ")
    long_lines = [
        ln for ln in comments if len(ln) > WRAP and not ln.startswith(headers) and " " in ln.strip()
    ]
    assert long_lines == []
    # quoted diff lines stay byte-exact, however long
    assert "> +\tif (!cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))" in out
