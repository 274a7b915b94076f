"""bench/lint_bench.py runs end to end on a tiny input (no timing is asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
@pytest.mark.kernel_tree
def test_lint_bench_smoke(kernel_tree):
    assert (kernel_tree / "scripts/checkpatch.pl").is_file()
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/lint_bench.py"), "--scale", "0.02", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    match = re.search(r"input: (\d+) patches, (\d+) added lines", out)
    assert match and int(match.group(1)) == 2 and int(match.group(2)) > 200
    assert re.search(r"checkpatch\.pl \(one perl run per patch file\): +\d+\.\d+ s", out)
    assert "checkpatch.pl fastest: one perl run" in out
    assert re.search(r"ratio: patchbot is \d+\.\d+x faster", out)
    for factor in ("1x", "2x", "4x"):
        line = rf"  {factor}: +\d+ patches +\d+ lines +\d+\.\d+ s +\d+\.\d+ us/line"
        assert re.search(line + r"  peak RSS \d+ MB", out)
