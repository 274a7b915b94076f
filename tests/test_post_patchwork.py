"""Patchwork checks from `patchbot review --send` and `patchbot watch --send`.

There is no Patchwork server here, so a small http.server on 127.0.0.1 speaks the two
REST calls patchbot uses (``GET /api/patches/?msgid=``, ``POST
/api/patches/{id}/checks/``) the way Patchwork 3 answers them, and records each request.
The archive and the SMTP intake are the real ones of bot_site.
"""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from archive_helpers import serve_http
from bot_site import V1_COVER, V1_PATCH1, V1_PATCH2, V2_COVER, V2_PATCH1, V2_PATCH2, site

pytestmark = [pytest.mark.archive, pytest.mark.slow]

TOKEN = "0123456789abcdef"


@dataclass
class FakePatchwork:
    patches: dict[str, int]  # "<Message-ID>" -> patch id
    fail_posts: bool = False
    checks: list[tuple[int, dict]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)


@contextmanager
def patchwork(pw: FakePatchwork) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/api/patches/":
                return self._answer(404, {"detail": "Not found."})
            mid = parse_qs(url.query).get("msgid", [""])[0]
            self.server_lookups.append(mid)
            found = pw.patches.get(mid)
            self._answer(200, [{"id": found, "msgid": mid}] if found else [])

        def do_POST(self) -> None:
            parts = urlsplit(self.path).path.strip("/").split("/")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            pw.auth.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != f"Token {TOKEN}":
                return self._answer(
                    403, {"detail": "Authentication credentials were not provided."}
                )
            if pw.fail_posts:
                return self._answer(500, {"detail": "database is locked"})
            if len(parts) != 4 or parts[:2] != ["api", "patches"] or parts[3] != "checks":
                return self._answer(404, {"detail": "Not found."})
            pw.checks.append((int(parts[2]), body))
            self._answer(201, {"id": len(pw.checks), **body})

        @property
        def server_lookups(self) -> list[str]:
            return pw.lookups

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(Handler) as base:
        yield base


def _config(url: str, token: str = TOKEN) -> str:
    return f'\n[post.patchwork]\nurl = "{url}"\ntoken = "{token}"\ncontext = "patchbot-coco"\n'


def test_review_send_posts_one_check_per_patch(tmp_path: Path) -> None:
    pw = FakePatchwork({f"<{V2_PATCH1}>": 21, f"<{V2_PATCH2}>": 22})
    with site(tmp_path, "v1", "v2") as s, patchwork(pw) as url:
        s.extra = _config(url)
        s.write_config()
        run = s.patchbot("review", "--send", V2_COVER)
        assert run.returncode == 0, run.stderr
        assert run.stdout.count("sent <patchbot.") == 2
        assert pw.lookups == [f"<{V2_PATCH1}>", f"<{V2_PATCH2}>"]
        assert pw.auth == [f"Token {TOKEN}"] * 2
        by_patch = dict(pw.checks)
        assert sorted(by_patch) == [21, 22]
        assert by_patch[21]["state"] == "success"  # v2 1/2 has no findings
        assert by_patch[22]["state"] == "warning"
        assert by_patch[22]["description"] == "patchbot: 1 finding (1 warning)"
        assert {c["context"] for c in by_patch.values()} == {"patchbot-coco"}
        assert by_patch[22]["target_url"] == f"{s.base}/{V2_PATCH2}/"


def test_watch_posts_checks_and_skips_patches_patchwork_lacks(tmp_path: Path) -> None:
    pw = FakePatchwork({f"<{V1_PATCH1}>": 11})  # patch 2 never reached Patchwork
    with site(tmp_path, "v1") as s, patchwork(pw) as url:
        s.extra = _config(url)
        s.write_config()
        run = s.patchbot("watch", "--once", "--send")
        assert run.returncode == 0, run.stderr
        assert [pid for pid, _c in pw.checks] == [11]
        assert pw.checks[0][1]["state"] == "warning"
        assert "patchwork: no patch for <20261201100002.2.dana@example.org>" in run.stderr
        assert "patchwork: check warning on patch 11" in run.stderr
        assert s.intake.datas == 3


def test_patchwork_errors_are_logged_by_the_bot_and_one_line_for_review(tmp_path: Path) -> None:
    pw = FakePatchwork({f"<{V1_PATCH1}>": 11, f"<{V1_PATCH2}>": 12})
    with site(tmp_path, "v1") as s, patchwork(pw) as url:
        s.extra = _config(url, token="wrong")
        s.write_config()
        watch = s.patchbot("watch", "--once", "--send")
        # the bot logs each refused check and carries on: the replies still went out
        assert watch.returncode == 0, watch.stderr
        assert watch.stderr.count("not posted: patchwork") == 2 and "HTTP 403" in watch.stderr
        assert "Traceback" not in watch.stderr and s.intake.datas == 3 and pw.checks == []
        s.extra = _config(url)
        s.write_config()
        pw.fail_posts = True
        run = s.patchbot("review", "--send", V1_COVER)
        assert run.returncode == 2
        assert run.stdout.count("known <patchbot.") == 3  # what happened is still told
        assert run.stderr.count("\n") == 1 and "HTTP 500" in run.stderr, run.stderr
        assert run.stderr.startswith("patchbot: error: patchwork http://127.0.0.1:")
        assert s.intake.datas == 3
