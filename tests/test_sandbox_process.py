"""patchbot.sandbox.run: what a command sees, and what stops it."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from patchbot import sandbox


def test_the_command_sees_no_home_no_network_and_a_scrubbed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SMTP_PASS", "MARKER-ENV-SECRET")
    (tmp_path / ".gitconfig").write_text("secret")
    result = sandbox.run(
        [
            "sh",
            "-c",
            f"env; ls -A $HOME; cat {tmp_path}/.gitconfig; cat /proc/net/dev; ls /root /work",
        ]
    )
    out = result.text()
    assert "MARKER-ENV-SECRET" not in out
    assert "HOME=/home/sandbox" in out
    assert "secret" not in out
    # the only network interface is the sandbox's own loopback
    devices = [ln.split(":")[0].strip() for ln in out.splitlines() if ":" in ln and "|" not in ln]
    assert "eth0" not in devices and not any(d.startswith(("en", "wl")) for d in devices)


def test_only_the_writable_paths_can_be_written(tmp_path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    result = sandbox.run(
        ["sh", "-c", f"echo a > {rw}/f; echo b > {ro}/f; echo c > /usr/f; echo d > /tmp/f"],
        readable=[ro],
        writable=[rw],
    )
    assert (rw / "f").read_text() == "a\n"
    assert not (ro / "f").exists() and not Path("/usr/f").exists()
    assert "Read-only file system" in result.stderr.decode()
    assert not Path("/tmp/f").exists()  # the sandbox's /tmp is its own


@pytest.mark.parametrize(
    ("script", "what"),
    [
        ("kill -XCPU $$", "cpu-limit"),
        ("kill -XFSZ $$", "file-size-limit"),
        ("head -c 3000000 /dev/zero", "output-limit"),
        ("sleep 30", "timeout"),
        # ptrace(PTRACE_TRACEME): in the seccomp stage every sandboxed command gets
        (
            "python3 -c 'import ctypes; ctypes.CDLL(None).syscall(101, 0, 0, 0, 0)'",
            "forbidden-syscall",
        ),
    ],
)
def test_what_stopped_the_command_is_named(script, what):
    limits = sandbox.Limits(wall_seconds=1, output_bytes=1 << 20)
    result = sandbox.run(["sh", "-c", script], limits=limits)
    stopped = result.violation()
    assert stopped is not None and stopped[0] == what


def test_the_rlimits_reach_the_command():
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = sandbox.Limits(open_files=77, file_size=1 << 20)
    result = sandbox.run(["sh", "-c", "ulimit -n; ulimit -f"], limits=limits)
    assert result.stdout.decode().split() == ["77", str((1 << 20) // 512)]
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before  # ours are untouched
