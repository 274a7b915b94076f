"""Fetching a thread from a REAL public-inbox archive served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from archive_helpers import free_port, serve_inbox
from conftest import FIXTURES

from patchbot.errors import InputError
from patchbot.series.archive import fetch_thread, load_thread, split_reference

SERIES = FIXTURES / "series"
COVER_ID = "cover.1795382383.git.alice@example.org"
PATCH2_ID = "d23cc38389763a2e974945e57d72d6f0604defa8.1795382383.git.alice@example.org"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A v2 inbox holding the fixture series and a reply, served by public-inbox-httpd."""
    mails = [p.read_bytes() for p in sorted((SERIES / "coco-v3").glob("*.patch"))]
    mails.append((SERIES / "review-reply.eml").read_bytes())
    with serve_inbox(tmp_path_factory.mktemp("pi"), mails) as base:
        yield base


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
    port = free_port()
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
