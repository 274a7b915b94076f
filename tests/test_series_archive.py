"""Fetching a thread from a REAL public-inbox archive served on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import FIXTURES

from patchbot.errors import InputError
from patchbot.series.archive import fetch_thread, load_thread, split_reference

SERIES = FIXTURES / "series"
LIST = "coco@example.org"
COVER_ID = "cover.1795382383.git.alice@example.org"
PATCH2_ID = "d23cc38389763a2e974945e57d72d6f0604defa8.1795382383.git.alice@example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> None:
    result = subprocess.run(cmd, input=data, env=env, capture_output=True, check=False)
    assert result.returncode == 0, f"{cmd[0]} failed: {result.stderr.decode(errors='replace')}"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A v2 inbox holding the fixture series and a reply, served by public-inbox-httpd."""
    for tool in ("public-inbox-init", "public-inbox-mda", "public-inbox-httpd"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/setup.sh (public-inbox)"
    root = tmp_path_factory.mktemp("pi")
    (root / "home").mkdir()
    (root / "emergency").mkdir()
    env = {
        **os.environ,
        "HOME": str(root / "home"),
        "PI_CONFIG": str(root / "home" / "pi-config"),
        "PI_EMERGENCY": str(root / "emergency"),
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}/coco"
    _run(
        [
            "public-inbox-init",
            "-V2",
            "-j",
            "1",
            "-L",
            "full",
            "coco",
            str(root / "inbox"),
            base,
            LIST,
        ],
        env,
    )
    _run(["git", "config", "-f", env["PI_CONFIG"], "publicinboxmda.spamcheck", "none"], env)
    mails = [p.read_bytes() for p in sorted((SERIES / "coco-v3").glob("*.patch"))]
    for mail in mails:
        body = mail.split(b"\n", 1)[1]  # drop the mbox "From <sha>" line
        _run(
            ["public-inbox-mda"],
            {**env, "ORIGINAL_RECIPIENT": LIST},
            b"To: " + LIST.encode() + b"\n" + body,
        )
    reply = (SERIES / "review-reply.eml").read_bytes()
    _run(
        ["public-inbox-mda"],
        {**env, "ORIGINAL_RECIPIENT": LIST},
        b"To: " + LIST.encode() + b"\n" + reply,
    )
    server = subprocess.Popen(
        ["public-inbox-httpd", "-W0", "-l", f"http://127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "public-inbox-httpd exited"
                assert time.monotonic() < deadline, "public-inbox-httpd did not listen"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.archive
@pytest.mark.slow
def test_thread_from_a_real_public_inbox(archive: str) -> None:
    series = load_thread(PATCH2_ID, base=archive)  # any message of the thread will do
    assert [p.label for p in series.patches] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert series.cover is not None and series.cover.message_id == COVER_ID
    assert any(w.startswith("skipped reply") for w in series.warnings)
    leak = series.patches[1]
    assert sorted(leak.files[0].added_lines()) == list(range(62, 73))
    assert [t.key for t in leak.trailers] == ["Fixes", "Signed-off-by"]
    assert all(p.applicable and not p.warnings for p in series.patches)
    by_url = load_thread(f"{archive}/{COVER_ID}/T/#t")
    assert [p.title for p in by_url.patches] == [p.title for p in series.patches]


@pytest.mark.archive
@pytest.mark.slow
def test_archive_errors_are_input_errors(archive: str) -> None:
    with pytest.raises(InputError, match="not found in the archive"):
        load_thread("no-such-message@example.org", base=archive)
    with pytest.raises(InputError, match="over the input limit of 1000 bytes"):
        fetch_thread(archive, COVER_ID, max_bytes=1000)
    port = _free_port()
    with pytest.raises(InputError, match="ConnectionError"):
        fetch_thread(f"http://127.0.0.1:{port}/coco", COVER_ID, timeout=5)


def test_split_reference() -> None:
    assert split_reference("https://lore.kernel.org/all/a%2Fb@x.org/T/#u") == (
        "https://lore.kernel.org/all",
        "a/b@x.org",
    )
    assert split_reference("<id@x>", "https://lore.kernel.org/linux-coco/") == (
        "https://lore.kernel.org/linux-coco",
        "id@x",
    )
    with pytest.raises(InputError, match="give the archive URL"):
        split_reference("id@x")
