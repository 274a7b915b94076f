"""A driver event with a tab in its name crashed the model's reader of a dead run's
events (issue 16 item 8, the model result path): `review --validate` and the bot exited 3.
Since the sandbox (issue 15) a run's events come back as JSON, so the name is just text:
the crash the patch causes is a model finding in the reply, and nothing exits 3.

Real parts only: the patch is made at test time against Debian's 6.1 virtio_mem.c (so
no kernel source is stored here), the archive and the model build and runs are real.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from archive_helpers import LIST
from bot_site import site

pytestmark = [pytest.mark.archive, pytest.mark.slow, pytest.mark.kernel_tree]

DRIVER = "drivers/virtio/virtio_mem.c"
MID = "20261205100001.1.tab@example.org"
# a tab in the api name, then a NULL store: the run dies before it reports, so the
# runner reads its ring of events back, one tab-separated record per event
HOSTILE_LINES = [
    '\tpb_event("coco\\tshare", __func__, __LINE__, 0, 0, 0, 0);\n',
    "\t*(volatile int *)0 = 0;\n",
]


def hostile_patch(tree: Path) -> str:
    before = (tree / DRIVER).read_text().splitlines(keepends=True)
    start = before.index("static int virtio_mem_probe(struct virtio_device *vdev)\n")
    blank = before.index("\n", start)  # after the declarations of probe()
    after = before[: blank + 1] + HOSTILE_LINES + before[blank + 1 :]
    diff = difflib.unified_diff(before, after, f"a/{DRIVER}", f"b/{DRIVER}")
    return f"diff --git a/{DRIVER} b/{DRIVER}\n" + "".join(diff)


def test_a_tab_in_a_driver_event_name_is_logged_and_lint_still_reviews(
    tmp_path: Path, kernel_tree: Path
) -> None:
    mail = (
        "From: Tab Sender <tab@example.org>\n"
        f"To: {LIST}\nSubject: [PATCH] virtio-mem: log an event at probe\n"
        f"Date: Sat, 05 Dec 2026 10:00:01 +0000\nMessage-Id: <{MID}>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n"
        "Log an event at probe.\n\n---\n" + hostile_patch(kernel_tree)
    )
    with site(tmp_path) as s:
        ok, why = s.inbox.deliver(mail.encode())
        assert ok, why
        tree = ["--tree", str(kernel_tree)]
        run = s.patchbot("review", "--validate", *tree, MID, timeout=600)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr and "internal error:" not in run.stderr
        # the model ran the patched driver and reports the crash the patch causes
        assert "the driver crashed (signal SIGSEGV) [crash]" in run.stdout
        assert "not validated in the model" not in run.stderr

        bot = s.patchbot("watch", "--once", "--validate", "--wait", "0", *tree, timeout=600)
        assert bot.returncode == 0, bot.stderr
        assert "Traceback" not in bot.stderr and "not validated in the model" not in bot.stderr
        assert "reviewed v1 of tab@example.org:" in bot.stderr
