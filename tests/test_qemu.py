"""A real x86_64 kernel built from the tree and booted under QEMU with virtio-mem."""

from __future__ import annotations

import difflib
import fcntl
import gzip
import json
import subprocess
from pathlib import Path

import pytest

from patchbot.kernel.build import FRAGMENT, REQUIRED_OPTIONS, KernelBuild, build_kernel
from patchbot.validate.qemu import QemuBoot, boot_qemu, judge, make_initramfs

FIXTURES = Path(__file__).parent / "fixtures" / "model" / "virtio_mem"
REQUESTED_KB = 256 * 1024


def test_initramfs_holds_busybox_and_an_init_that_reports(tmp_path):
    image = make_initramfs(tmp_path)
    listing = subprocess.run(
        ["cpio", "-t", "--quiet"], input=gzip.decompress(image.read_bytes()), capture_output=True
    )
    names = set(listing.stdout.decode().split())
    assert {"init", "bin/busybox", "proc", "sys"} <= names
    init = subprocess.run(
        ["sh", "-c", "cpio -i --quiet --to-stdout init"],
        input=gzip.decompress(image.read_bytes()),
        capture_output=True,
    ).stdout.decode()
    assert "PATCHBOT-MEMTOTAL-KB" in init and "/sys/bus/virtio/drivers/virtio_mem" in init
    assert "poweroff" in init


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
    assert warning.trace[-1].line == 2 and "WARNING" in warning.trace[-1].note
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
    code, _, err = run_cli("boot", "--qemu", "--series", str(bad))
    assert code == 2
    assert "does not apply" in err and "drivers/virtio/virtio_mem.c" in err
    assert len(err.strip().splitlines()) == 1


def _assert_clean_boot(boot: QemuBoot) -> None:
    tail = "\n".join(boot.console.splitlines()[-25:])  # shown when an assert fails
    assert boot.findings == [], ([f.message for f in boot.findings], tail)
    assert boot.driver_registered and boot.bound == ["virtio0"], tail
    assert boot.growth_kb is not None, tail
    # freed init memory only adds to MemTotal after the boot figure; a few MiB at most
    assert REQUESTED_KB <= boot.growth_kb <= REQUESTED_KB + 32 * 1024, (boot.growth_kb, tail)


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_real_kernel_boots_and_virtio_mem_plugs_the_requested_size(kernel_tree, tmp_path):
    """Cold cache: ~10 min of make on two cores, once; later runs reuse the build."""
    built = build_kernel(kernel_tree)
    config = built.config.read_text().splitlines()
    assert all(opt in config for opt in REQUIRED_OPTIONS)
    assert "# CONFIG_DEVMEM is not set" in config
    assert FRAGMENT.is_file()
    assert not (kernel_tree / ".config").exists()  # the cached tree is never written to
    _assert_clean_boot(boot_qemu(built.bzimage, tmp_path))


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_real_kernel_with_the_correct_series_rebuilds_and_boots(kernel_tree, tmp_path):
    patch = (FIXTURES / "correct.patch").read_text()
    built = build_kernel(kernel_tree, [("correct.patch", patch)])
    with open(built.bzimage.parent / ".lock") as lock:  # a concurrent run moves src/
        fcntl.flock(lock, fcntl.LOCK_EX)
        _check_incremental(kernel_tree, built)
    _assert_clean_boot(boot_qemu(built.bzimage, tmp_path))


def _check_incremental(kernel_tree: Path, built: KernelBuild) -> None:
    patched = (built.source_dir / "drivers/virtio/virtio_mem.c").read_text()
    assert "virtio_mem_convert_range" in patched
    assert (
        "virtio_mem_convert_range" not in (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    )
    assert (built.build_dir / "drivers/virtio/virtio_mem.o").stat().st_mtime >= (
        built.source_dir / "drivers/virtio/virtio_mem.c"
    ).stat().st_mtime
    # started from the unpatched objects: only the patched file is compiled again
    log = (built.source_dir.parent / "build.log").read_text()
    compiled = [line.split()[-1] for line in log.splitlines() if line.startswith("  CC ")]
    assert "drivers/virtio/virtio_mem.o" in compiled
    assert len(compiled) < 20, compiled


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
        "boot", "--qemu", "--series", str(tmp_path / "broken.patch"), "--format", "json"
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert findings and {f["rule"] for f in findings} == {"kernel-build-failed"}
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
        "boot", "--qemu", "--series", str(tmp_path / "warn.patch"), "--format", "json"
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert [f["rule"] for f in findings] == ["qemu-warning"], findings
    line = new.splitlines().index('\tWARN_ONCE(1, "patchbot: probe warns\\n");') + 1
    assert (findings[0]["path"], findings[0]["line"]) == (src, line)
    assert "virtio0" in err and "grew" in err  # the rest of the boot went on normally
