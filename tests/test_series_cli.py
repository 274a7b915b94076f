"""Bad series input through the real CLI: exit code 2 and one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

PATCH = sorted((FIXTURES / "series" / "coco-v3").glob("v3-0002-*.patch"))[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "no patches found in"),
        (b"Subject: hello\n\njust talk\n", "no patches found in"),
        (
            b"Subject: [PATCH] x\n\nm\n---\n--- a/../../etc/passwd\n+++ b/../../etc/passwd\n"
            b"@@ -1 +1 @@\n-a\n+b\n",
            "nothing left to lint",
        ),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    run_cli, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "in.mbox"
    path.write_bytes(content)
    code, _out, err = run_cli("lint", str(path))
    assert code == 2
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_series_from_a_pipe_and_from_stdin(tmp_path: Path) -> None:
    """`patchbot lint <(...)` hands over a pipe path; `-` reads stdin."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    piped = subprocess.run(
        ["bash", "-c", f'{sys.executable} -m patchbot lint <(cat "{PATCH}")'],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    stdin = subprocess.run(
        [sys.executable, "-m", "patchbot", "lint", "-"],
        input=PATCH.read_bytes(),
        capture_output=True,
        env=env,
        check=False,
    )
    # both are linted (0 clean or 1 findings), with the same verdict
    assert piped.returncode in (0, 1), piped.stderr
    assert stdin.returncode == piped.returncode, stdin.stderr
    oversized = subprocess.run(
        [sys.executable, "-m", "patchbot", "lint", "/dev/zero"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert oversized.returncode == 2
    assert "over the input limit" in oversized.stderr
