"""The kernel path's commands run in the sandbox: a patch's Makefile changes only obj/.

A kbuild-sized test without a kernel: a workspace whose "kernel" Makefile does what a
hostile patch to a Makefile or Kconfig would do with $(shell ...).  The real path runs
the same `workspace.make()` with the same binds (tests/test_qemu.py builds real kernels).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from patchbot.kernel import workspace
from patchbot.kernel.workspace import Workspace

SECRET = "MARKER-SECRET-77e1"

HOSTILE_MAKEFILE = """\
$(shell echo escaped > {outside})
$(shell echo planted > {src}/planted)
$(shell cat {home}/.gitconfig > $(O)/stolen 2>/dev/null)
$(shell echo obj-ok > $(O)/built)
$(shell (sleep 1; echo late > {outside}.late) >/dev/null 2>&1 &)
all:
\t@echo HOME=$$HOME
\t@cat {home}/.ssh/id_rsa || true
"""


@pytest.fixture
def hostile_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, Path, Path]:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".gitconfig").write_text(f"[sendemail]\n\tsmtpPass = {SECRET}\n")
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    monkeypatch.setenv("HOME", str(home))
    ws = Workspace(tmp_path / "tree", tmp_path / "ws")
    ws.src.mkdir(parents=True)
    outside = tmp_path / "outside"
    (ws.src / "Makefile").write_text(
        HOSTILE_MAKEFILE.format(outside=outside, src=ws.src, home=home)
    )
    return ws, outside, home


def test_a_makefile_shell_command_changes_only_obj(hostile_ws):
    ws, outside, _ = hostile_ws
    proc = workspace.make(ws, "all")
    assert proc.returncode == 0, proc.stderr
    assert (ws.obj / "built").read_text() == "obj-ok\n"
    assert not outside.exists()
    assert not (ws.src / "planted").exists()  # the worktree is read-only
    assert SECRET not in (ws.obj / "stolen").read_text()
    assert SECRET not in proc.stdout + proc.stderr
    assert "HOME=/home/sandbox" in proc.stdout
    time.sleep(1.5)  # the background child died with the sandbox
    assert not Path(f"{outside}.late").exists()


def test_what_a_series_plants_in_obj_is_gone_for_the_next_one(hostile_ws):
    ws, _, _ = hostile_ws
    ws.obj.mkdir()
    (ws.obj / "base.o").write_text("base")
    with workspace.series_obj(ws):
        assert (ws.obj / "base.o").read_text() == "base"
        workspace.make(ws, "all")
        assert (ws.obj / "built").exists()
        (ws.obj / "base.o").write_text("trojan")
    assert not (ws.obj / "built").exists()
    assert (ws.obj / "base.o").read_text() == "base"
    assert not (ws.root / "obj.base").exists()


def test_an_interrupted_series_is_rolled_back_when_the_workspace_is_taken(hostile_ws):
    ws, _, _ = hostile_ws
    (ws.root / "obj.base").mkdir(parents=True)
    (ws.root / "obj.base" / "base.o").write_text("base")
    ws.obj.mkdir()
    (ws.obj / "planted").write_text("x")
    with workspace.locked(ws):
        assert not (ws.obj / "planted").exists()
        assert (ws.obj / "base.o").read_text() == "base"


def test_a_build_past_its_wall_clock_is_a_sandbox_finding(hostile_ws, monkeypatch):
    from patchbot import sandbox
    from patchbot.kernel.build import build_image

    ws, _, _ = hostile_ws
    (ws.src / "Makefile").write_text("bzImage:\n\t@sleep 30\n")
    monkeypatch.setattr(workspace, "KERNEL_LIMITS", sandbox.Limits(wall_seconds=1))
    result = build_image(ws)
    assert not result.ok
    assert result.sandbox is not None and result.sandbox[0] == "sandbox/timeout"


def test_qemu_has_no_network_device_and_no_defaults(tmp_path):
    from patchbot.validate.qemu import qemu_command

    cmd = qemu_command(tmp_path / "bzImage", tmp_path / "initramfs", tmp_path / "qmp")
    assert "-nodefaults" in cmd
    assert cmd[cmd.index("-nic") + 1] == "none"
    assert not any("netdev" in arg or "e1000" in arg for arg in cmd)


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_validate_kernel_runs_a_makefile_shell_change_only_in_the_sandbox(
    kernel_tree, hostile_ws, tmp_path
):
    """The real path: a series whose Makefile runs $(shell ...) during the build."""
    from patchbot.validate.apply import read_series
    from patchbot.validate.kernel import kernel_patches, validate_kernel
    from patchbot.validate.progress import Progress

    _, outside, home = hostile_ws
    fixture = Path(__file__).parent / "fixtures" / "kernel_series" / "makefile-shell"
    text = next(fixture.glob("*.patch")).read_text()
    patch = tmp_path / "0001.patch"
    patch.write_text(text.replace("@OUTSIDE@", str(outside)).replace("@HOME@", str(home)))
    patches = kernel_patches(read_series([str(patch)]))
    run = validate_kernel(
        kernel_tree,
        patches,
        boot=False,
        run_checkpatch=False,
        progress=Progress(stream=io.StringIO()),
    )
    assert not outside.exists()
    assert not any(f.rule == "kernel/build-failed" for f in run.findings), run.findings
    ws = workspace.workspace_for(kernel_tree)
    # the series' obj/ is gone; the base obj/ never saw the planted file or the secret
    assert not (ws.obj / "pb-planted").exists()
    assert not (ws.obj / "pb-stolen").exists()
    assert not (ws.src / "pb-planted").exists()
    assert not (ws.root / "obj.base").exists()
