"""Boot a real kernel under QEMU (TCG) with a virtio-mem device and judge the console.

The initramfs is Debian's static busybox plus a small /init that mounts proc and sys,
waits until MemTotal stops changing (virtio-mem plugs from a workqueue, possibly after
init started), prints MemTotal and whether the virtio_mem driver is registered and
bound, then powers off.  The console is parsed for:

  qemu-panic / qemu-oops / qemu-bug / qemu-warning   the kernel said so
  virtio-mem-not-bound   the driver is missing or did not bind the device
  memory-not-grown       MemTotal grew by less than the requested size
  qemu-timeout           no power-off within the time limit
  qemu-no-result         init never reported (kernel did not reach userspace)

Growth is measured against the kernel's own boot figure ("Memory: NK/MK available",
printed before any hotplug); memory freed after it (init sections, the initrd) only
adds, so a plugged device shows growth >= requested size.
"""

from __future__ import annotations

import gzip
import logging
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from patchbot.api import Finding, Location, Severity
from patchbot.errors import InputError

log = logging.getLogger(__name__)

BUSYBOX = Path("/bin/busybox")
QEMU = "qemu-system-x86_64"
REQUESTED_MIB = 256
DEFAULT_TIME_LIMIT = 240.0  # TCG on a busy 2-core machine; a normal boot takes ~10 s

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
memtotal() { awk '/^MemTotal:/ { print $2 }' /proc/meminfo; }
echo "PATCHBOT-MEMTOTAL-FIRST-KB=$(memtotal)"
# virtio-mem plugs asynchronously: wait until MemTotal is stable for 2 s (max ~60 s)
prev=""; stable=0; i=0
while [ $i -lt 120 ] && [ $stable -lt 4 ]; do
    cur=$(memtotal)
    if [ "$cur" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
    prev=$cur; i=$((i + 1)); sleep 0.5
done
echo "PATCHBOT-MEMTOTAL-KB=$(memtotal)"
if [ -d /sys/bus/virtio/drivers/virtio_mem ]; then
    echo "PATCHBOT-VIRTIO-MEM-DRIVER=yes"
    for dev in /sys/bus/virtio/drivers/virtio_mem/virtio*; do
        [ -e "$dev" ] && echo "PATCHBOT-VIRTIO-MEM-BOUND=${dev##*/}"
    done
else
    echo "PATCHBOT-VIRTIO-MEM-DRIVER=no"
fi
echo "PATCHBOT-DONE"
poweroff -f
"""

# console line -> violation name; WARNING lines carry "at path:line"
_KERNEL_TROUBLE = [
    (re.compile(r"Kernel panic - not syncing"), "qemu-panic"),
    (re.compile(r"\bOops\b|general protection fault"), "qemu-oops"),
    (re.compile(r"\bBUG: |kernel BUG at"), "qemu-bug"),
    (re.compile(r"WARNING: CPU: \d+ PID: \d+ at "), "qemu-warning"),
]
_AT_SOURCE = re.compile(r" at ([\w./-]+\.[ch]):(\d+)")
_BOOT_MEMORY = re.compile(r"Memory: (\d+)K/(\d+)K available")


@dataclass
class QemuBoot:
    console: str
    console_path: Path
    seconds: float
    timed_out: bool
    boot_available_kb: int | None = None
    memtotal_first_kb: int | None = None
    memtotal_kb: int | None = None
    driver_registered: bool = False
    bound: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def growth_kb(self) -> int | None:
        if self.memtotal_kb is None or self.boot_available_kb is None:
            return None
        return self.memtotal_kb - self.boot_available_kb


def make_initramfs(dest: Path) -> Path:
    """Write initramfs.cpio.gz (busybox + /init) into ``dest``; returns its path."""
    if not BUSYBOX.is_file():
        raise InputError(f"{BUSYBOX} not found: apt-get install busybox-static")
    stage = dest / "initramfs"
    shutil.rmtree(stage, ignore_errors=True)
    for sub in ("bin", "proc", "sys", "dev"):
        (stage / sub).mkdir(parents=True)
    shutil.copy2(BUSYBOX, stage / "bin" / "busybox")
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


def qemu_command(bzimage: Path, initramfs: Path, requested_mib: int = REQUESTED_MIB) -> list[str]:
    return [
        QEMU,
        "-nographic",
        "-no-reboot",
        "-smp",
        "1",
        "-m",
        "512M,maxmem=4G,slots=2",
        "-kernel",
        str(bzimage),
        "-initrd",
        str(initramfs),
        "-append",
        "console=ttyS0 memhp_default_state=online panic=-1",
        "-object",
        "memory-backend-ram,id=vmem0,size=1G",
        "-device",
        f"virtio-mem-pci,id=vm0,memdev=vmem0,requested-size={requested_mib}M,block-size=2M",
    ]


def boot_qemu(
    bzimage: Path,
    workdir: Path,
    requested_mib: int = REQUESTED_MIB,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> QemuBoot:
    """Boot ``bzimage`` once; the console is kept in ``workdir``/console.log."""
    if shutil.which(QEMU) is None:
        raise InputError(f"{QEMU} not found: apt-get install qemu-system-x86")
    workdir.mkdir(parents=True, exist_ok=True)
    initramfs = make_initramfs(workdir)
    console_path = workdir / "console.log"
    start = time.monotonic()
    timed_out = False
    with open(console_path, "wb") as console:
        proc = subprocess.Popen(
            qemu_command(bzimage, initramfs, requested_mib),
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
    seconds = time.monotonic() - start
    text = console_path.read_bytes().decode("utf-8", errors="replace").replace("\r", "")
    result = QemuBoot(text, console_path, seconds, timed_out)
    judge(result, requested_mib, time_limit)
    log.info("qemu boot took %.1f s: %d finding(s)", seconds, len(result.findings))
    return result


def _value(text: str, key: str) -> str | None:
    m = re.search(rf"^{key}=(\S+)", text, re.M)
    return m.group(1) if m else None


def judge(boot: QemuBoot, requested_mib: int, time_limit: float) -> None:
    """Fill in the measured facts and the findings from the console text."""
    text = boot.console
    lines = text.splitlines()
    path = str(boot.console_path)
    m = _BOOT_MEMORY.search(text)
    boot.boot_available_kb = int(m.group(1)) if m else None
    first, final = _value(text, "PATCHBOT-MEMTOTAL-FIRST-KB"), _value(text, "PATCHBOT-MEMTOTAL-KB")
    boot.memtotal_first_kb = int(first) if first and first.isdigit() else None
    boot.memtotal_kb = int(final) if final and final.isdigit() else None
    boot.driver_registered = _value(text, "PATCHBOT-VIRTIO-MEM-DRIVER") == "yes"
    boot.bound = re.findall(r"^PATCHBOT-VIRTIO-MEM-BOUND=(\S+)", text, re.M)

    def add(rule: str, message: str, line: int, at: Location | None = None) -> None:
        context = [Location(path, n, note=lines[n - 1]) for n in range(max(1, line - 3), line)]
        where = at or Location(path, line)
        boot.findings.append(
            Finding(
                rule=rule,
                severity=Severity.ERROR,
                message=message,
                path=where.path,
                line=where.line,
                trace=[*context, Location(path, line, note=lines[line - 1] if lines else "")],
                platform="qemu-tcg",
                fault="none",
            )
        )

    for n, line in enumerate(lines, start=1):
        for pattern, rule in _KERNEL_TROUBLE:
            if pattern.search(line):
                src = _AT_SOURCE.search(line)
                at = Location(src.group(1), int(src.group(2))) if src else None
                add(rule, f"the kernel reported: {line.strip()}", n, at)
                break
    end = max(1, len(lines))
    if boot.timed_out:
        add("qemu-timeout", f"the guest did not power off within {time_limit:g} s", end)
    if "PATCHBOT-DONE" not in text:
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
