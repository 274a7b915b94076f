"""`review --validate` and `watch --validate`: the series also boots in the bundled model,
and the cover-letter reply says what each boot found (real public-inbox, real model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from archive_helpers import LIST
from bot_site import site
from conftest import FIXTURES

pytestmark = [pytest.mark.archive, pytest.mark.slow, pytest.mark.kernel_tree]

# our model fixture that hands private memory back to the host on unplug
PATCH = FIXTURES / "model" / "virtio_mem" / "no-unplug-conversion.patch"
COVER_ID = "cover.1796200000.git.fixture@example.org"
PATCH_ID = "20261203100001.1.fixture@example.org"
DATE = "Thu, 03 Dec 2026 10:00:00 +0000"


def series_mails() -> list[bytes]:
    lines = PATCH.read_text().split("\n")
    assert lines[0].startswith("From 0000") and lines[1].startswith("From: ")
    author = lines[1]
    body = "\n".join(ln for ln in lines[2:] if not ln.startswith(("Date: ", "Subject: ")))
    cover = (
        f"{author}\nTo: {LIST}\nDate: {DATE}\nMessage-Id: <{COVER_ID}>\n"
        "Subject: [PATCH 0/1] virtio-mem: convert plugged memory in CoCo guests\n\n"
        "Plugged memory is accepted before use and shared again on unplug.\n"
    )
    patch = (
        f"{author}\nTo: {LIST}\nDate: {DATE}\nMessage-Id: <{PATCH_ID}>\n"
        f"In-Reply-To: <{COVER_ID}>\nReferences: <{COVER_ID}>\n"
        f"Subject: [PATCH 1/1] virtio-mem: convert plugged memory in CoCo guests\n{body}"
    )
    return [cover.encode(), patch.encode()]


def test_review_validate_puts_the_model_boots_in_the_cover_reply(
    tmp_path: Path, kernel_tree: Path
) -> None:
    with site(tmp_path) as s:
        for mail in series_mails():
            ok, why = s.inbox.deliver(mail)
            assert ok, why
        tree = ["--tree", str(kernel_tree)]
        plain = s.patchbot("review", *tree, PATCH_ID)
        assert plain.returncode == 0, plain.stderr
        assert "Model boot" not in plain.stdout
        validated = s.patchbot("review", "--validate", *tree, PATCH_ID, timeout=300)
        assert validated.returncode == 0, validated.stderr
        out = validated.stdout
        cover_reply = out[out.index(f"In-Reply-To: <{COVER_ID}>") :]
        assert "Model boot (the patched driver in patchbot's CoCo memory model):" in cover_reply
        assert "virtio-mem x none: clean" in cover_reply
        for platform in ("tdx", "snp"):
            assert f"virtio-mem x {platform}: " in cover_reply
        # the driver never converts before unplug: unplug-private, and since it never
        # checks, also the unplug of what a failed MEM_CANCEL_ONLINE undo left private
        flat = " ".join(cover_reply.split())  # the lines are wrapped at 72
        assert re.search(r"violate ([a-z-]+, )*unplug-private\b", flat), cover_reply
        assert s.intake.datas == 0  # printed, not sent

        watched = s.patchbot("watch", "--once", "--validate", "--wait", "0", *tree, timeout=300)
        assert "validated v1 of" in watched.stderr and "in the model: 1 boots" in watched.stderr
        assert "would send" in watched.stderr and s.intake.datas == 0
