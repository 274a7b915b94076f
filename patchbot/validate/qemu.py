"""Boot a real kernel under QEMU (TCG) with a virtio-mem device and judge the console.

The initramfs is Debian's static busybox, patchbot's own dma-heap test program
(guest/dmaheap_test.c, built with gcc -static against the tree's UAPI header) and a
/init that:

  1. waits until MemTotal stops changing (the boot-time plug of REQUESTED_MIB runs from
     a workqueue), reports it and whether the virtio_mem driver is bound;
  2. runs the dma-heap program (allocate from /dev/dma_heap/system, mmap, write, read);
  3. for each resize step prints PATCHBOT-RESIZE-READY=<step>: the host sees the marker
     on the console and sends `qom-set vm0 requested-size` over QMP (grow by
     RESIZE_MIB, then shrink back); the guest waits for MemTotal to change and settle
     and reports it;
  4. powers off.

The console is parsed for:

  qemu-panic / qemu-oops / qemu-bug / qemu-warning / qemu-lockdep   the kernel said so
  virtio-mem-not-bound   the driver is missing or did not bind the device
  memory-not-grown       MemTotal grew by less than requested (boot plug or resize up)
  memory-not-unplugged   MemTotal did not go back down after the resize down
  dma-heap-failed        the dma-heap program failed or never reported
  qemu-timeout           no power-off within the time limit
  qemu-no-result         init never reported (kernel did not reach userspace)

Growth at boot is measured against the kernel's own boot figure ("Memory: NK/MK
available", printed before any hotplug); memory freed after it only adds.
"""

from __future__ import annotations

import gzip
import logging
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from patchbot import sandbox
from patchbot.api import Finding, Location, Severity
from patchbot.errors import InputError
from patchbot.sandbox.limits import Limits

log = logging.getLogger(__name__)

BUSYBOX = Path("/bin/busybox")
QEMU = "qemu-system-x86_64"
REQUESTED_MIB = 256  # plugged at boot
RESIZE_MIB = 256  # plugged at run time, then unplugged again
# QEMU maps the guest RAM, the virtio-mem backend and TCG's code buffer: ~3 GiB of
# address space; the caller's time limit is the wall clock
QEMU_LIMITS = Limits(wall_seconds=3600, address_space=16 << 30, output_bytes=64 << 20)
DEFAULT_TIME_LIMIT = 240.0  # TCG on a busy 2-core machine; a normal run takes ~20 s
GUEST_PROGRAM = Path(__file__).with_name("guest") / "dmaheap_test.c"
# MemTotal is counted in pages the guest sees; allow a little for rounding and the
# memmap the kernel takes out of hot-added memory
SLACK_KB = 8 * 1024

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
memtotal() { awk '/^MemTotal:/ { print $2 }' /proc/meminfo; }
# wait until MemTotal is stable for 2 s (max ~60 s); with an argument, first wait
# (max ~60 s) until it differs from that value
settle() {
    if [ -n "$1" ]; then
        i=0
        while [ $i -lt 120 ] && [ "$(memtotal)" = "$1" ]; do i=$((i + 1)); sleep 0.5; done
    fi
    prev=""; stable=0; i=0
    while [ $i -lt 120 ] && [ $stable -lt 4 ]; do
        cur=$(memtotal)
        if [ "$cur" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
        prev=$cur; i=$((i + 1)); sleep 0.5
    done
}
echo "PATCHBOT-MEMTOTAL-FIRST-KB=$(memtotal)"
settle
echo "PATCHBOT-MEMTOTAL-KB=$(memtotal)"
if [ -d /sys/bus/virtio/drivers/virtio_mem ]; then
    echo "PATCHBOT-VIRTIO-MEM-DRIVER=yes"
    for dev in /sys/bus/virtio/drivers/virtio_mem/virtio*; do
        [ -e "$dev" ] && echo "PATCHBOT-VIRTIO-MEM-BOUND=${dev##*/}"
    done
else
    echo "PATCHBOT-VIRTIO-MEM-DRIVER=no"
fi
if [ -x /bin/dmaheap_test ]; then /bin/dmaheap_test; fi
for step in grow shrink; do
    before=$(memtotal)
    echo "PATCHBOT-RESIZE-READY=$step"
    settle "$before"
    echo "PATCHBOT-MEMTOTAL-$step-KB=$(memtotal)"
done
echo "PATCHBOT-DONE"
poweroff -f
"""

# console line -> violation name; WARNING lines carry "at path:line"
_KERNEL_TROUBLE = [
    (re.compile(r"Kernel panic - not syncing"), "qemu-panic"),
    (re.compile(r"\bOops\b|general protection fault"), "qemu-oops"),
    (
        re.compile(
            r"WARNING: (?:possible|suspicious|inconsistent) .*(?:lock|RCU)|"
            r"WARNING: bad unlock|INFO: possible .*lock"
        ),
        "qemu-lockdep",
    ),
    (re.compile(r"\bBUG: |kernel BUG at"), "qemu-bug"),
    (re.compile(r"WARNING: CPU: \d+ PID: \d+ at "), "qemu-warning"),
]
_AT_SOURCE = re.compile(r" at ([\w./-]+\.[ch]):(\d+)")
_BOOT_MEMORY = re.compile(r"Memory: (\d+)K/(\d+)K available")
_SPLAT_END = re.compile(r"---\[ end trace|^\S|Kernel Offset|PATCHBOT-")


@dataclass
class QemuBoot:
    console: str
    console_path: Path
    seconds: float
    timed_out: bool
    boot_available_kb: int | None = None
    memtotal_first_kb: int | None = None
    memtotal_kb: int | None = None
    memtotal_grow_kb: int | None = None
    memtotal_shrink_kb: int | None = None
    driver_registered: bool = False
    bound: list[str] = field(default_factory=list)
    dmaheap: str | None = None  # "PASS ..." / "FAIL ..." from the guest program
    resized: list[str] = field(default_factory=list)  # the QMP steps the host sent
    findings: list[Finding] = field(default_factory=list)

    @property
    def growth_kb(self) -> int | None:
        if self.memtotal_kb is None or self.boot_available_kb is None:
            return None
        return self.memtotal_kb - self.boot_available_kb


def build_guest_program(tree: Path, dest: Path) -> Path:
    """gcc -static the dma-heap test program against the tree's linux/dma-heap.h.

    The raw include/uapi headers need `make headers_install` to be usable from user
    space; only dma-heap.h comes from the tree (the rest is the libc's linux headers).
    """
    header = tree / "include/uapi/linux/dma-heap.h"
    if not header.is_file():
        raise InputError(f"{tree}: no {header.relative_to(tree)} (dma-buf heaps need 5.6+)")
    out = dest / "dmaheap_test"
    with tempfile.TemporaryDirectory(prefix="patchbot-uapi-") as inc:
        (Path(inc) / "linux").mkdir()
        shutil.copy2(header, Path(inc) / "linux" / "dma-heap.h")
        # the header comes from the patched worktree: gcc runs in the sandbox
        proc = sandbox.run(
            ["gcc", "-static", "-O2", "-Wall", "-I", inc, "-o", str(out), str(GUEST_PROGRAM)],
            readable=[Path(inc), GUEST_PROGRAM],
            writable=[dest.resolve()],
            limits=sandbox.Limits(wall_seconds=120, output_bytes=4 << 20),
        )
    if proc.returncode != 0:
        why = proc.stderr.decode(errors="replace").strip()[-300:]
        raise InputError(f"gcc -static {GUEST_PROGRAM.name} failed: {why}")
    return out


def make_initramfs(dest: Path, programs: tuple[Path, ...] = ()) -> Path:
    """Write initramfs.cpio.gz (busybox + /init + programs in /bin) into ``dest``."""
    if not BUSYBOX.is_file():
        raise InputError(f"{BUSYBOX} not found: apt-get install busybox-static")
    stage = dest / "initramfs"
    shutil.rmtree(stage, ignore_errors=True)
    for sub in ("bin", "proc", "sys", "dev"):
        (stage / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, stage / "bin" / "busybox")
    for program in programs:
        shutil.copy2(program, stage / "bin" / program.name)
    init = stage / "init"
    init.write_text(INIT_SCRIPT)
    init.chmod(0o755)
    names = sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))
    cpio = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"],
        cwd=stage,
        input=("\n".join(names) + "\n").encode(),
        capture_output=True,
    )
    if cpio.returncode != 0:
        raise InputError(f"cpio failed: {cpio.stderr.decode(errors='replace').strip()}")
    out = dest / "initramfs.cpio.gz"
    out.write_bytes(gzip.compress(cpio.stdout, mtime=0))
    shutil.rmtree(stage)
    return out


def qemu_command(
    bzimage: Path, initramfs: Path, qmp: Path, requested_mib: int = REQUESTED_MIB
) -> list[str]:
    return [
        QEMU,
        # nothing QEMU would add on its own: 7.2 adds an e1000 on user-mode networking
        # (the guest could reach the host's loopback), a VGA card and a monitor
        "-nodefaults",
        "-nic",
        "none",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-smp",
        "1",
        "-m",
        "512M,maxmem=4G,slots=2",
        "-kernel",
        str(bzimage),
        "-initrd",
        str(initramfs),
        # online_movable: memory plugged at run time can be offlined again on unplug
        "-append",
        "console=ttyS0 memhp_default_state=online_movable panic=-1",
        "-object",
        "memory-backend-ram,id=vmem0,size=1G",
        "-device",
        f"virtio-mem-pci,id=vm0,memdev=vmem0,requested-size={requested_mib}M,block-size=2M",
        "-qmp",
        f"unix:{qmp},server=on,wait=off",
    ]


def boot_qemu(
    bzimage: Path,
    workdir: Path,
    tree: Path | None = None,
    requested_mib: int = REQUESTED_MIB,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> QemuBoot:
    """Boot ``bzimage`` once, driving the resize steps; console in ``workdir``/console.log.

    With ``tree``, the dma-heap program is built against its UAPI header and run.
    """
    from patchbot.validate.qmp import Qmp, QmpError

    if shutil.which(QEMU) is None:
        raise InputError(f"{QEMU} not found: apt-get install qemu-system-x86")
    workdir.mkdir(parents=True, exist_ok=True)
    programs = (build_guest_program(tree, workdir),) if tree is not None else ()
    initramfs = make_initramfs(workdir, programs)
    console_path = workdir / "console.log"
    qmp_path = workdir / "qmp.sock"
    qmp_path.unlink(missing_ok=True)
    sizes = {"grow": requested_mib + RESIZE_MIB, "shrink": requested_mib}
    resized: list[str] = []
    start = time.monotonic()
    timed_out = False
    with open(console_path, "wb") as console:
        # in the sandbox: the guest kernel is built from the series; only workdir (the
        # console, the QMP socket) is writable, and QEMU has no network namespace
        proc = sandbox.popen(
            qemu_command(bzimage, initramfs, qmp_path, requested_mib),
            readable=[bzimage.resolve()],
            writable=[workdir.resolve()],
            stdout=console,
            limits=QEMU_LIMITS,
        )
        qmp = None
        try:
            qmp = Qmp(qmp_path)
            while proc.poll() is None:
                if time.monotonic() - start > time_limit:
                    timed_out = True
                    break
                text = console_path.read_bytes().decode("utf-8", errors="replace")
                for step in re.findall(r"PATCHBOT-RESIZE-READY=(\w+)", text):
                    if step in sizes and step not in resized:
                        # the guest printed its marker before waiting: resize now
                        qmp.command(
                            "qom-set",
                            path="vm0",
                            property="requested-size",
                            value=sizes[step] << 20,
                        )
                        resized.append(step)
                time.sleep(0.2)
        except QmpError as exc:
            log.warning("QMP: %s", exc)
        finally:
            if qmp is not None:
                qmp.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    seconds = time.monotonic() - start
    text = console_path.read_bytes().decode("utf-8", errors="replace").replace("\r", "")
    result = QemuBoot(text, console_path, seconds, timed_out, resized=resized)
    judge(result, requested_mib, time_limit, dmaheap_expected=bool(programs))
    if proc.returncode in (-signal.SIGSYS, 128 + signal.SIGSYS):  # bwrap: 128 + signal
        result.findings.append(
            Finding(
                rule="sandbox/forbidden-syscall",
                severity=Severity.ERROR,
                message="QEMU made a system call the sandbox's seccomp filter forbids",
                path=str(console_path),
                line=1,
                platform="qemu-tcg",
                fault="none",
            )
        )
    log.info("qemu boot took %.1f s: %d finding(s)", seconds, len(result.findings))
    return result


def _value(text: str, key: str) -> str | None:
    m = re.search(rf"^{key}=(.+)$", text, re.M)
    return m.group(1).strip() if m else None


def _kb(text: str, key: str) -> int | None:
    value = _value(text, key)
    return int(value) if value and value.isdigit() else None


def _splat(lines: list[str], first: int) -> list[int]:
    """Line numbers (1-based) of a splat that starts at ``first``: up to its end marker."""
    numbers = [first]
    for n in range(first + 1, min(len(lines), first + 60) + 1):
        line = lines[n - 1]
        body = re.sub(r"^\[\s*\d+\.\d+\]\s?", "", line)
        numbers.append(n)
        if "---[ end trace" in line or body.startswith("PATCHBOT-"):
            break
    return numbers


def judge(
    boot: QemuBoot, requested_mib: int, time_limit: float, dmaheap_expected: bool = False
) -> None:
    """Fill in the measured facts and the findings from the console text."""
    text = boot.console
    lines = text.splitlines()
    path = str(boot.console_path)
    m = _BOOT_MEMORY.search(text)
    boot.boot_available_kb = int(m.group(1)) if m else None
    boot.memtotal_first_kb = _kb(text, "PATCHBOT-MEMTOTAL-FIRST-KB")
    boot.memtotal_kb = _kb(text, "PATCHBOT-MEMTOTAL-KB")
    boot.memtotal_grow_kb = _kb(text, "PATCHBOT-MEMTOTAL-grow-KB")
    boot.memtotal_shrink_kb = _kb(text, "PATCHBOT-MEMTOTAL-shrink-KB")
    boot.driver_registered = _value(text, "PATCHBOT-VIRTIO-MEM-DRIVER") == "yes"
    boot.bound = re.findall(r"^PATCHBOT-VIRTIO-MEM-BOUND=(\S+)", text, re.M)
    boot.dmaheap = _value(text, "PATCHBOT-DMAHEAP")

    def add(
        rule: str, message: str, line: int, at: Location | None = None, excerpt: int = 0
    ) -> None:
        shown = _splat(lines, line) if excerpt and lines else [line]
        context = [Location(path, n, note=lines[n - 1]) for n in range(max(1, line - 3), line)]
        trace = [*context, *(Location(path, n, note=lines[n - 1] if lines else "") for n in shown)]
        where = at or Location(path, line)
        boot.findings.append(
            Finding(
                rule=rule,
                severity=Severity.ERROR,
                message=message,
                path=where.path,
                line=where.line,
                trace=trace,
                platform="qemu-tcg",
                fault="none",
            )
        )

    for n, line in enumerate(lines, start=1):
        for pattern, rule in _KERNEL_TROUBLE:
            if pattern.search(line):
                src = _AT_SOURCE.search(line)
                at = Location(src.group(1), int(src.group(2))) if src else None
                add(rule, f"the kernel reported: {line.strip()}", n, at, excerpt=1)
                break
    end = max(1, len(lines))
    if boot.timed_out:
        add("qemu-timeout", f"the guest did not power off within {time_limit:g} s", end)
    if boot.memtotal_kb is None:
        add("qemu-no-result", "init never reported: the kernel did not reach userspace", end)
        return
    if not boot.driver_registered or not boot.bound:
        state = "registered but bound to no device" if boot.driver_registered else "not registered"
        add("virtio-mem-not-bound", f"the virtio_mem driver is {state}", end)
    growth = boot.growth_kb
    requested_kb = requested_mib * 1024
    if growth is None:
        add("memory-not-grown", "no boot memory figure or MemTotal on the console", end)
    elif growth < requested_kb:
        add(
            "memory-not-grown",
            f"MemTotal grew by {growth} kB over the boot memory, less than the "
            f"{requested_kb} kB the virtio-mem device requested",
            end,
        )
    if dmaheap_expected and not (boot.dmaheap or "").startswith("PASS"):
        add("dma-heap-failed", f"dma-heap test: {boot.dmaheap or 'no result'}", end)
    if "PATCHBOT-DONE" not in text:
        if not boot.timed_out:
            add("qemu-no-result", "init stopped before the resize steps finished", end)
        return
    resize_kb = RESIZE_MIB * 1024
    grown, shrunk = boot.memtotal_grow_kb, boot.memtotal_shrink_kb
    if grown is None or grown - boot.memtotal_kb < resize_kb - SLACK_KB:
        add(
            "memory-not-grown",
            f"after the resize up by {resize_kb} kB MemTotal went from {boot.memtotal_kb} "
            f"to {grown} kB",
            end,
        )
    elif shrunk is None or grown - shrunk < resize_kb - SLACK_KB:
        add(
            "memory-not-unplugged",
            f"after the resize down by {resize_kb} kB MemTotal went from {grown} to {shrunk} kB",
            end,
        )
