"""The code-quality gates run as part of the suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *cmd], cwd=REPO, capture_output=True, text=True)


def test_ruff_lint_is_clean():
    result = _run("ruff", "check", "patchbot", "rules", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _run("ruff", "format", "--check", "patchbot", "rules", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean():
    # the tests and benches too: a bench calling a function that no longer exists was
    # only found by running it (bench/model_bench.py --qemu); the tests' helper modules
    # (conftest, bot_site) are top-level modules, hence the explicit package bases
    result = _run("mypy", "--explicit-package-bases", "patchbot", "rules", "bench", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
