"""A real x86_64 kernel built from the tree and booted under QEMU with virtio-mem."""

from __future__ import annotations

import difflib
import gzip
import json
import subprocess
from pathlib import Path

import pytest

from patchbot.kernel.build import build_tree
from patchbot.validate.qemu import QemuBoot, build_guest_program, judge, make_initramfs

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "virtio_mem"
REQUESTED_KB = 256 * 1024


@pytest.mark.kernel_tree
def test_initramfs_holds_busybox_the_dmaheap_program_and_an_init_that_reports(
    kernel_tree, tmp_path
):
    program = build_guest_program(kernel_tree, tmp_path)
    image = make_initramfs(tmp_path, (program,))
    listing = subprocess.run(
        ["cpio", "-t", "--quiet"], input=gzip.decompress(image.read_bytes()), capture_output=True
    )
    names = set(listing.stdout.decode().split())
    assert {"init", "bin/busybox", "bin/dmaheap_test", "proc", "sys"} <= names
    init = subprocess.run(
        ["sh", "-c", "cpio -i --quiet --to-stdout init"],
        input=gzip.decompress(image.read_bytes()),
        capture_output=True,
    ).stdout.decode()
    assert "PATCHBOT-MEMTOTAL-KB" in init and "/sys/bus/virtio/drivers/virtio_mem" in init
    assert "PATCHBOT-RESIZE-READY=$step" in init and "poweroff" in init
    # static: the initramfs has no libc; on the host it runs and fails cleanly (no heap)
    file_out = subprocess.run(["file", str(program)], capture_output=True, text=True).stdout
    assert "statically linked" in file_out, file_out
    ran = subprocess.run([str(program)], capture_output=True, text=True)
    assert ran.stdout.startswith("PATCHBOT-DMAHEAP="), ran.stdout


def _console(tmp_path: Path, body: str) -> QemuBoot:
    path = tmp_path / "console.log"
    path.write_text(body)
    boot = QemuBoot(body, path, 1.0, timed_out=False)
    judge(boot, 256, 60)
    return boot


def test_console_with_a_warning_and_no_growth_gives_located_findings(tmp_path):
    body = (
        "[    0.000000] Memory: 480000K/523768K available (1000K kernel code)\n"
        "[    1.100000] WARNING: CPU: 0 PID: 12 at drivers/virtio/virtio_mem.c:1234 "
        "virtio_mem_run_wq+0x1/0x2\n"
        "PATCHBOT-MEMTOTAL-FIRST-KB=482000\n"
        "PATCHBOT-MEMTOTAL-KB=482100\n"
        "PATCHBOT-VIRTIO-MEM-DRIVER=yes\n"
        "PATCHBOT-DONE\n"
    )
    boot = _console(tmp_path, body)
    rules = {f.rule: f for f in boot.findings}
    assert set(rules) == {"qemu-warning", "virtio-mem-not-bound", "memory-not-grown"}
    warning = rules["qemu-warning"]
    assert (warning.path, warning.line) == ("drivers/virtio/virtio_mem.c", 1234)
    # the excerpt runs from the WARNING line to the next guest marker
    assert [loc.line for loc in warning.trace] == [1, 2, 3]
    assert "WARNING" in warning.trace[1].note and warning.trace[2].note.startswith("PATCHBOT-")
    assert boot.growth_kb == 2100
    assert "registered but bound to no device" in rules["virtio-mem-not-bound"].message


def test_console_that_never_reaches_init_is_a_finding(tmp_path):
    body = "[    0.5] Kernel panic - not syncing: VFS: Unable to mount root fs\n"
    boot = _console(tmp_path, body)
    assert {f.rule for f in boot.findings} == {"qemu-panic", "qemu-no-result"}
    panic = next(f for f in boot.findings if f.rule == "qemu-panic")
    assert panic.path == str(tmp_path / "console.log") and panic.line == 1


def test_qemu_boot_of_a_directory_that_is_no_kernel_tree(run_cli, tmp_path):
    code, out, err = run_cli("boot", "--qemu", "--tree", str(tmp_path))
    assert code == 2 and out == ""
    assert "not an x86-capable kernel tree" in err and "Traceback" not in err


@pytest.mark.kernel_tree
def test_qemu_series_that_does_not_apply_fails_before_building(run_cli, kernel_tree, tmp_path):
    text = (FIXTURES / "correct.patch").read_text()
    bad = tmp_path / "bad.patch"
    bad.write_text(
        text.replace(
            " \tswitch (virtio_mem_sbm_get_mb_state(vm, mb_id)) {",
            " \tswitch (virtio_mem_sbm_get_no_such_state(vm)) {",
            1,
        )
    )
    code, _, err = run_cli("boot", "--qemu", "--tree", "6.1", "--series", str(bad))
    assert code == 2
    assert "does not apply" in err and "drivers/virtio/virtio_mem.c" in err
    # progress lines, then the one-line error; nothing was built
    lines = err.strip().splitlines()
    assert lines[-1].startswith("patchbot: error: patch 1/1 ") and "git am aborted" in lines[-1]
    assert not any("build" in line or "Traceback" in line for line in lines)


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_boot_qemu_with_the_correct_series_boots_clean(run_cli):
    code, out, err = run_cli(
        "boot", "--qemu", "--tree", "6.1", "--series", str(FIXTURES / "correct.patch")
    )
    assert code == 0, (out, err)
    assert "checkpatch" not in err  # boot --qemu builds and boots; validate --kernel lints too
    assert "virtio_mem bound to virtio0" in err and "dma-heap PASS" in err
    assert "build 1/1: ok" in err


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_build_tree_is_incremental_and_leaves_the_tree_unbuilt(kernel_tree):
    built = build_tree(kernel_tree)
    again = build_tree(kernel_tree)  # nothing changed: make only relinks
    assert built.bzimage == again.bzimage and again.bzimage.is_file()
    assert again.make_seconds < 60, again.make_seconds
    assert "CONFIG_VIRTIO_MEM=y" in again.config.read_text().splitlines()
    assert not (kernel_tree / ".config").exists() and not (kernel_tree / "vmlinux").exists()


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_series_that_breaks_the_real_build_is_a_finding_at_the_compiler_line(
    run_cli, kernel_tree, tmp_path
):
    patch = (FIXTURES / "correct.patch").read_text()
    broken = patch.replace(
        "+\treturn set_memory_decrypted(vaddr, nr_pages);",
        "+\treturn set_memory_decrypted_by_typo(vaddr, nr_pages);",
        1,
    )
    assert broken != patch
    (tmp_path / "broken.patch").write_text(broken)
    code, out, err = run_cli(
        "boot",
        "--qemu",
        "--tree",
        "6.1",
        "--series",
        str(tmp_path / "broken.patch"),
        "--format",
        "json",
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert findings and {f["rule"] for f in findings} == {"kernel/build-failed"}
    first = findings[0]
    assert first["path"] == "drivers/virtio/virtio_mem.c"
    assert "set_memory_decrypted_by_typo" in first["message"]
    # the line really is the one the series added
    post = _post_image_lines(kernel_tree, tmp_path, broken)
    assert "set_memory_decrypted_by_typo" in post[first["line"] - 1]


def _post_image_lines(kernel_tree: Path, tmp_path: Path, patch: str) -> list[str]:
    work = tmp_path / "post"
    src = work / "drivers/virtio/virtio_mem.c"
    src.parent.mkdir(parents=True)
    src.write_text((kernel_tree / "drivers/virtio/virtio_mem.c").read_text())
    subprocess.run(["patch", "-p1", "-s", "-d", str(work)], input=patch, text=True, check=True)
    return src.read_text().splitlines()


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_warning_in_the_patched_driver_is_reported_at_its_source_line(
    run_cli, kernel_tree, tmp_path
):
    src = "drivers/virtio/virtio_mem.c"
    old = (kernel_tree / src).read_text()
    new = old.replace(
        "\tvirtio_device_ready(vdev);\n",
        '\tvirtio_device_ready(vdev);\n\tWARN_ONCE(1, "patchbot: probe warns\\n");\n',
        1,
    )
    assert new != old
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{src}", f"b/{src}"
        )
    )
    (tmp_path / "warn.patch").write_text(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        "From: Patchbot Fixture <fixture@example.org>\n"
        "Subject: [PATCH] virtio-mem: warn in probe\n\n"
        "Test fixture.\n\nSigned-off-by: Patchbot Fixture <fixture@example.org>\n---\n"
        f"diff --git a/{src} b/{src}\n{diff}-- \n2.39.5\n"
    )
    code, out, err = run_cli(
        "boot",
        "--qemu",
        "--tree",
        "6.1",
        "--series",
        str(tmp_path / "warn.patch"),
        "--format",
        "json",
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert [f["rule"] for f in findings] == ["qemu-warning"], findings
    line = new.splitlines().index('\tWARN_ONCE(1, "patchbot: probe warns\\n");') + 1
    assert (findings[0]["path"], findings[0]["line"]) == (src, line)
    assert "virtio0" in err and "shrink -> " in err  # the rest of the boot went on normally
