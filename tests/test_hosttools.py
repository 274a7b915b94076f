"""The host-tool table: setup.sh installs from it and the test session checks it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

from patchbot import hosttools
from patchbot.errors import InputError


def test_setup_script_installs_every_package_the_table_names():
    listed = subprocess.run(
        [sys.executable, str(REPO / "patchbot" / "hosttools.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert listed == hosttools.packages()
    # the kernel-build tools a fresh machine lacked are in the list
    assert {"flex", "bison", "bc", "libelf-dev", "libssl-dev", "cpio"} <= set(listed)
    assert "hosttools.py" in (REPO / "scripts" / "setup.sh").read_text()


def test_a_missing_tool_is_named_with_its_package():
    absent = hosttools.HostTool(
        "frobnicator", "frob-tools", program="patchbot-no-such-program", needed_for="testing"
    )
    assert hosttools.missing((absent,)) == [absent]
    line = hosttools.describe_missing([absent])
    assert "frobnicator (frob-tools, for testing)" in line
    assert line.endswith("apt-get install frob-tools") and "\n" not in line


def test_require_raises_an_input_error_for_absent_tools(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match=r"flex \(flex, .*cpio \(cpio"):
        hosttools.require(("flex", "cpio"))


def test_the_test_session_refuses_to_start_without_a_tool(tmp_path):
    """Run pytest with PATH stripped of flex: it must stop before any test and name it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # every program on PATH except flex, by symlink, so only flex goes missing
    for tool in hosttools.TOOLS:
        if tool.program and tool.program != "flex":
            real = subprocess.run(
                ["sh", "-c", f"command -v {tool.program}"], capture_output=True, text=True
            ).stdout.strip()
            (bindir / tool.program).symlink_to(real)
    (bindir / "python3").symlink_to(sys.executable)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_hosttools.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": str(bindir), "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "missing host tools: flex (flex" in result.stdout + result.stderr
    assert "passed" not in result.stdout
