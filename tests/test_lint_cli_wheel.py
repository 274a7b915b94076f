"""The wheel carries rules/ and templates/: build it, install it alone, list the rules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from patchbot.engine import load_rules

SOURCES = ("pyproject.toml", "setup.py", "README.md", "patchbot", "rules", "templates")


@pytest.mark.slow
def test_wheel_installs_and_lists_bundled_rules(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:  # a clean copy: building must not litter the work tree
        path = REPO / name
        if not path.exists() and name == "README.md":
            # pyproject names the README; until it is written, the build needs some text
            (src / name).write_text("patchbot\n")
        elif path.is_dir():
            shutil.copytree(
                path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy(path, src / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("patchbot-*.whl")
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import patchbot, patchbot.resources as r;"
            "print(patchbot.__file__); print(r.rules_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout.splitlines()
    assert where[0].startswith(str(target))
    assert where[1] == str(target / "patchbot" / "_bundled" / "rules")
    listed = subprocess.run(
        [sys.executable, "-m", "patchbot", "rules", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    ids = {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    # compare with the copy that was built (the work tree may change meanwhile)
    assert ids == {r.id for r in load_rules([src / "rules"], include_bundled=False)}
    some_id = sorted(ids)[0]
    explained = subprocess.run(
        [sys.executable, "-m", "patchbot", "rules", "explain", some_id],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert explained.returncode == 0 and "What it does" in explained.stdout
    doc = subprocess.run(
        [sys.executable, "-m", "patchbot", "rules", "doc"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert doc.returncode == 2 and "--output" in doc.stderr
