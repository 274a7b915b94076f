"""`patchbot lint --msgid ID --archive URL` against a REAL public-inbox archive."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_helpers import free_port, serve_inbox
from conftest import FIXTURES

SERIES = FIXTURES / "series" / "coco-v3"
COVER_ID = "cover.1795382383.git.alice@example.org"
PATCH2_ID = "d23cc38389763a2e974945e57d72d6f0604defa8.1795382383.git.alice@example.org"
OLD_ID = "old-v2.1794000000.git.alice@example.org"


def _older_version() -> bytes:
    """v2 of patch 1 in the same thread, without a Signed-off-by: linting it would
    report missing-signoff, so its absence shows only the newest version was linted."""
    mail = (SERIES / "v3-0001-virtio-coco-mem-share-regions-with-the-host.patch").read_bytes()
    mail = mail.replace(b"[PATCH v3 1/5]", b"[PATCH v2 1/1]")
    mail = mail.replace(b"Message-Id: <30d29b7a", b"Message-Id: <old-v2.1794000000.x")
    lines = [ln for ln in mail.split(b"\n") if not ln.startswith(b"Signed-off-by:")]
    assert len(lines) < mail.count(b"\n") + 1, "fixture lost its Signed-off-by line"
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    mails = [p.read_bytes() for p in sorted(SERIES.glob("*.patch"))]
    with serve_inbox(tmp_path_factory.mktemp("pi"), [*mails, _older_version()]) as base:
        yield base


def _patchbot(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line in a child process, so a traceback would show on stderr."""
    return subprocess.run(
        [sys.executable, "-m", "patchbot", "lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _keys(report: str) -> list[tuple[str, str, int]]:
    data = json.loads(report)
    return sorted((f["rule"], f["path"], f["line"]) for f in data["findings"])


@pytest.mark.archive
@pytest.mark.slow
def test_lint_thread_by_message_id_matches_the_files(archive: str, tmp_path: Path) -> None:
    fetched = _patchbot("--msgid", PATCH2_ID, "--archive", archive, "--format", "json")
    assert fetched.returncode == 1, fetched.stderr
    assert "linting v3 only" in fetched.stderr  # the v2 patch was in the thread
    local = _patchbot(str(SERIES), "--format", "json")
    assert local.returncode == 1, local.stderr
    keys = _keys(fetched.stdout)
    assert keys == _keys(local.stdout)
    rules = {rule for rule, _path, _line in keys}
    assert "malformed-fixes-tag" in rules
    # 2/5 leaks the pages when `region->shared && set_memory_encrypted()` fails: correct
    # code, and no longer a leak-on-failure false alarm since the short-circuit fix
    assert "leak-on-failure" not in rules
    assert "missing-signoff" not in rules  # only the signed-off v3 patches were linted


@pytest.mark.archive
@pytest.mark.slow
def test_lint_thread_by_url(archive: str) -> None:
    result = _patchbot("--msgid", f"{archive}/{COVER_ID}/T/#t")
    assert result.returncode == 1, result.stderr
    assert "malformed-fixes-tag" in result.stdout
    assert "in 5 patches" in result.stdout


@pytest.mark.archive
@pytest.mark.slow
def test_unknown_message_id_is_one_line_exit_2(archive: str) -> None:
    result = _patchbot("--msgid", "no-such-message@example.org", "--archive", archive)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "<no-such-message@example.org> not found in the archive" in result.stderr


@pytest.mark.archive
def test_archive_down_is_one_line_exit_2() -> None:
    down = f"http://127.0.0.1:{free_port()}/coco"  # nothing listens on a fresh port
    result = _patchbot("--msgid", COVER_ID, "--archive", down)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "ConnectionError" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--archive", "http://127.0.0.1:9/coco", str(SERIES)], "give --msgid too"),
        (["--msgid", COVER_ID, "--archive", "http://127.0.0.1:9/c", str(SERIES)], "do not also"),
        (["--msgid", COVER_ID], "give the archive URL"),
        (["--msgid", "two words@x", "--archive", "http://127.0.0.1:9/c"], "not a Message-ID"),
    ],
)
def test_msgid_usage_errors(args: list[str], message: str) -> None:
    result = _patchbot(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


@pytest.mark.archive
@pytest.mark.slow
def test_a_lone_message_id_is_fetched_from_the_configured_archive(
    archive: str, tmp_path: Path
) -> None:
    (tmp_path / ".patchbot.toml").write_text(f'archive = "{archive}"\n')
    by_id = _patchbot(f"<{PATCH2_ID}>", "--format", "json", cwd=tmp_path)
    assert by_id.returncode == 1, by_id.stderr
    flagged = _patchbot("--msgid", PATCH2_ID, "--archive", archive, "--format", "json")
    assert _keys(by_id.stdout) == _keys(flagged.stdout) != []
    # a file of that name wins over the archive: here, an empty mbox
    (tmp_path / PATCH2_ID).write_text("")
    local = _patchbot(PATCH2_ID, cwd=tmp_path)
    assert local.returncode == 2 and f"no patches found in {PATCH2_ID}" in local.stderr


def test_a_lone_message_id_without_an_archive_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _patchbot(COVER_ID, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "give the archive URL" in result.stderr and ".patchbot.toml" in result.stderr
    missing = _patchbot("no/such/series.mbox", cwd=tmp_path)  # a path stays a path
    assert missing.returncode == 2 and "no such file" in missing.stderr
