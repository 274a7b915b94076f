"""scripts/setup.sh on a clone, the way a Debian 12 user runs it.

Debian's python refuses `pip install` into itself (PEP 668), so setup.sh makes a venv in the
checkout from /usr/bin/python3 and installs that checkout into it.  The test clones the
repository, runs setup.sh with a bare environment (env -i, Debian's PATH, a new HOME) and
checks that the clone got its own install: a second clone must not reuse the first one's.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

BARE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _bare_env(home: Path) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": BARE_PATH}
    # reuse the pip download cache so the test does not fetch every wheel again
    cache = Path(os.path.expanduser("~/.cache/pip"))
    if cache.is_dir():
        env["PIP_CACHE_DIR"] = str(cache)
    return env


@pytest.mark.slow
def test_setup_makes_a_venv_of_the_clone_from_debians_python(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=clone,
        env=_bare_env(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    python = Path(run.stdout.strip())
    assert python == clone / ".venv" / "bin" / "python"
    cfg = (clone / ".venv" / "pyvenv.cfg").read_text()
    assert "home = /usr/bin" in cfg  # made from Debian's python, not the first on PATH
    # the clone's own patchbot, imported from outside the checkout
    where = subprocess.run(
        [str(python), "-c", "import patchbot; print(patchbot.__file__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where == str(clone / "patchbot" / "__init__.py")
    cli = subprocess.run(
        [str(clone / ".venv" / "bin" / "patchbot"), "rules", "list"],
        cwd="/",
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "leak-on-failure" in cli.stdout
    # a second run installs nothing and prints the same interpreter
    again = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=clone, env=_bare_env(home), capture_output=True, text=True
    )
    assert again.returncode == 0 and again.stdout.strip() == str(python)
    assert "installing" not in again.stderr
    assert (clone / ".gitignore").read_text().count("/.venv/") == 1
