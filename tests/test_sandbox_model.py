"""Hostile driver code in the model: nothing escapes the sandbox, each attempt is reported.

Every fixture under tests/fixtures/sandbox/ is our own C, appended to a copy of the real
virtio_mem.c and called from its probe (or run as a constructor at load).  Markers the
code would create live outside the sandbox (under tmp_path), HOME is a fake one with a
secret in .gitconfig and .ssh/id_rsa, and a test listener waits on a loopback port.
"""

from __future__ import annotations

import difflib
import os
import socket
import time
from pathlib import Path

import pytest

from patchbot.model.build import BuildFailure, build_driver
from patchbot.validate.boot import BootReport, boot

pytestmark = pytest.mark.kernel_tree

FIXTURES = Path(__file__).parent / "fixtures" / "sandbox"
HEAP_SERIES = (
    Path(__file__).parent / "fixtures" / "model" / "system_heap" / "cc-shared-no-mmap-decrypt"
)
SRC = "drivers/virtio/virtio_mem.c"
ANCHOR = "\tvirtio_device_ready(vdev);\n"
SECRET = "MARKER-SECRET-5f3a9c"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake HOME with the credentials an attacker wants, and a ledger."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".gitconfig").write_text(f"[sendemail]\n\tsmtpPass = {SECRET}\n")
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY-----\n{SECRET}\n")
    (home / "ledger.sqlite").write_bytes(b"SQLite format 3\x00ledger")
    monkeypatch.setenv("HOME", str(home))
    return home


def hostile_text(kernel_tree: Path, name: str, **fill: object) -> str:
    text = (kernel_tree / SRC).read_text()
    code = (FIXTURES / f"{name}.c").read_text()
    for key, value in fill.items():
        code = code.replace(f"@{key}@", str(value))
    assert "@" not in code.replace("__attribute__", ""), f"unfilled placeholder in {name}"
    assert text.count(ANCHOR) == 1
    patched = text.replace(ANCHOR, ANCHOR + "\tpb_hostile_probe();\n")
    return "static void pb_hostile_probe(void);\n" + patched + "\n" + code


def hostile_boot(kernel_tree: Path, tmp_path: Path, name: str, **fill: object) -> BootReport:
    dest = tmp_path / "scratch" / SRC
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(hostile_text(kernel_tree, name, **fill))
    return boot("virtio-mem", kernel_tree, ("none",), dest)


def rules(report: BootReport) -> set[str]:
    return {f.rule for f in report.findings}


def test_constructor_running_a_command_is_stopped_at_load(kernel_tree, tmp_path, home):
    marker = tmp_path / "escaped"
    report = hostile_boot(kernel_tree, tmp_path, "ctor_command", MARKER=marker)
    assert not marker.exists()
    assert rules(report) == {"sandbox/forbidden-syscall"}
    assert "while loading the driver library" in report.findings[0].message
    # stopped once at load: no scenario ran
    assert report.matrix is not None and len(report.matrix.runs) == 1


def test_probe_running_a_command_is_stopped(kernel_tree, tmp_path, home):
    marker = tmp_path / "escaped"
    report = hostile_boot(kernel_tree, tmp_path, "probe_command", MARKER=marker)
    assert not marker.exists()
    assert "sandbox/forbidden-syscall" in rules(report)
    finding = next(f for f in report.findings if f.rule == "sandbox/forbidden-syscall")
    assert finding.path == SRC and finding.function and finding.function.startswith("virtio_mem")


def test_writes_outside_the_scratch_tree_and_to_the_ledger_are_stopped(kernel_tree, tmp_path, home):
    marker = tmp_path / "escaped"
    ledger = home / "ledger.sqlite"
    before = ledger.read_bytes()
    report = hostile_boot(kernel_tree, tmp_path, "write_outside", MARKER=marker, LEDGER=ledger)
    assert not marker.exists()
    assert ledger.read_bytes() == before
    assert "sandbox/forbidden-syscall" in rules(report)


@pytest.mark.parametrize("secret", [".gitconfig", ".ssh/id_rsa"])
def test_credentials_are_not_readable(kernel_tree, tmp_path, home, secret):
    marker = tmp_path / "stolen"
    report = hostile_boot(
        kernel_tree, tmp_path, "steal_secret", MARKER=marker, SECRET=home / secret
    )
    assert not marker.exists()
    assert "sandbox/forbidden-syscall" in rules(report)
    assert all(SECRET not in f.message for f in report.findings)


def test_an_include_of_a_secret_does_not_reach_the_build_messages(kernel_tree, tmp_path, home):
    src = tmp_path / "virtio_mem.c"
    src.write_text(hostile_text(kernel_tree, "include_secret", SECRET=home / ".gitconfig"))
    built = build_driver(src, kernel_tree, "virtio_mem", SRC)
    assert isinstance(built, BuildFailure)
    assert SECRET not in built.message() and not any(SECRET in d for d in built.diagnostics)
    assert any("No such file" in d for d in built.diagnostics), built.diagnostics


def test_no_connection_reaches_a_loopback_listener(kernel_tree, tmp_path, home):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        report = hostile_boot(kernel_tree, tmp_path, "connect_loopback", PORT=port)
        listener.settimeout(0.5)
        with pytest.raises(socket.timeout):
            listener.accept()
    assert "sandbox/forbidden-syscall" in rules(report)


def test_garbage_on_the_result_channel_is_a_finding(kernel_tree, tmp_path, home):
    report = hostile_boot(kernel_tree, tmp_path, "result_garbage")
    assert "sandbox/bad-result" in rules(report)
    finding = next(f for f in report.findings if f.rule == "sandbox/bad-result")
    assert "not JSON" in finding.message


def test_a_fork_bomb_dies_at_its_first_fork(kernel_tree, tmp_path, home):
    marker = tmp_path / "survivor"
    start = time.monotonic()
    report = hostile_boot(kernel_tree, tmp_path, "fork_bomb", MARKER=marker)
    assert time.monotonic() - start < 120
    time.sleep(1.5)  # a surviving child would leave its marker after 1 s
    assert not marker.exists()
    assert "sandbox/forbidden-syscall" in rules(report)


def test_a_constructor_that_sleeps_is_a_timeout_at_load(kernel_tree, tmp_path, home):
    start = time.monotonic()
    report = hostile_boot(kernel_tree, tmp_path, "ctor_sleep")
    assert time.monotonic() - start < 60
    assert rules(report) == {"sandbox/timeout"}
    assert "while loading the driver library" in report.findings[0].message


def test_unbounded_allocation_hits_the_address_space_limit(kernel_tree, tmp_path, home):
    report = hostile_boot(kernel_tree, tmp_path, "alloc_unbounded")
    crash = [f for f in report.findings if f.rule == "crash"]
    assert crash and "SIGSEGV" in crash[0].message


def test_printing_a_gigabyte_is_cut_off(kernel_tree, tmp_path, home):
    start = time.monotonic()
    report = hostile_boot(kernel_tree, tmp_path, "print_gigabyte")
    assert time.monotonic() - start < 120
    assert "sandbox/output-limit" in rules(report)


def test_the_other_drivers_still_report(run_cli, kernel_tree, tmp_path, home):
    """One series: a hostile virtio-mem patch and a heap patch with a real violation."""
    old = (kernel_tree / SRC).read_text().splitlines(keepends=True)
    new = hostile_text(kernel_tree, "fork_bomb", MARKER=tmp_path / "survivor")
    diff = "".join(difflib.unified_diff(old, new.splitlines(keepends=True), f"a/{SRC}", f"b/{SRC}"))
    patch = tmp_path / "0001-virtio-mem-hostile.patch"
    patch.write_text(
        "From: Mallory <mallory@example.org>\nSubject: [PATCH] virtio-mem: probe faster\n\n"
        f"Faster.\n---\n{diff}"
    )
    code, out, err = run_cli(
        "validate",
        "--tree",
        "6.1",  # the fixture series are written against 6.1
        str(patch),
        *map(str, sorted(HEAP_SERIES.glob("*.patch"))),
        "--platform",
        "snp",
    )
    assert code == 1, err
    assert "[sandbox/forbidden-syscall]" in out
    assert "[shared-read-through-encrypted-mapping]" in out


def test_without_bwrap_validate_refuses_in_one_line(run_cli, kernel_tree, tmp_path, monkeypatch):
    from patchbot.sandbox import mode

    monkeypatch.setattr(mode, "_AVAILABLE", {})
    bin_dir = tmp_path / "bin"  # the system's tools, but no bwrap
    bin_dir.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if tool.name != "bwrap":
            (bin_dir / tool.name).symlink_to(tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    patch = HEAP_SERIES / sorted(os.listdir(HEAP_SERIES))[0]
    code, out, err = run_cli("validate", "--tree", "6.1", str(patch))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "bwrap) is not installed: apt-get install bubblewrap" in err
    assert "--no-sandbox" in err
    # asked for in so many words, it runs (on the host)
    code, out, err = run_cli(
        "validate", "--tree", "6.1", "--no-sandbox", str(patch), "--platform", "snp"
    )
    mode.set_enabled(True)
    assert code in (0, 1), err
    assert "virtio" not in err or "system-heap" in err


def test_watch_runs_without_the_sandbox_only_when_its_config_says_so(tmp_path):
    from patchbot.config import Config
    from patchbot.errors import ConfigError
    from patchbot.post.settings import load_post_settings

    assert not load_post_settings(Config(), git={}).without_sandbox
    config = Config(post={"run-patches-without-sandbox": True})
    assert load_post_settings(config, git={}).without_sandbox
    with pytest.raises(ConfigError):
        load_post_settings(Config(post={"run-patches-without-sandbox": "maybe"}), git={})
