"""The host programs and headers patchbot's real parts need, and the Debian packages
that provide them.

One table serves three callers: scripts/setup.sh installs the packages, the test
session refuses to start while any of them is missing (naming each one), and the
commands that build or boot a real kernel say which package to install instead of
failing halfway through a ten-minute build.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HostTool:
    name: str  # what the user sees in the error
    package: str  # the Debian package that provides it
    program: str | None = None  # an executable looked up on PATH
    path: str | None = None  # or a file that must exist (a header, a tarball)
    needed_for: str = ""

    def present(self) -> bool:
        if self.program is not None:
            return shutil.which(self.program) is not None
        return self.path is not None and Path(self.path).exists()


_BUILD = "building a real kernel"
_BOOT = "booting a real kernel under QEMU"
_ARCHIVE = "the public-inbox archive tests and `patchbot watch` tests"

TOOLS: tuple[HostTool, ...] = (
    HostTool("gcc", "gcc", program="gcc", needed_for="the model harness and kernel builds"),
    HostTool("make", "make", program="make", needed_for=_BUILD),
    HostTool("perl", "perl", program="perl", needed_for="scripts/checkpatch.pl"),
    HostTool("git", "git", program="git", needed_for="trees, worktrees and git am"),
    HostTool("patch", "patch", program="patch", needed_for="applying series to scratch trees"),
    HostTool("flex", "flex", program="flex", needed_for=_BUILD + " (kconfig)"),
    HostTool("bison", "bison", program="bison", needed_for=_BUILD + " (kconfig)"),
    HostTool("bc", "bc", program="bc", needed_for=_BUILD + " (timeconst.h)"),
    HostTool("libelf headers", "libelf-dev", path="/usr/include/gelf.h", needed_for="objtool"),
    HostTool(
        "OpenSSL headers",
        "libssl-dev",
        path="/usr/include/openssl/opensslv.h",
        needed_for=_BUILD + " (sign-file, extract-cert)",
    ),
    HostTool("sparse", "sparse", program="sparse", needed_for="make C=1 checks"),
    HostTool("cpio", "cpio", program="cpio", needed_for="the initramfs"),
    HostTool("busybox", "busybox-static", path="/bin/busybox", needed_for="the initramfs"),
    HostTool(
        "qemu-system-x86_64", "qemu-system-x86", program="qemu-system-x86_64", needed_for=_BOOT
    ),
    HostTool(
        "linux-source-6.1 tarball",
        "linux-source-6.1",
        path="/usr/src/linux-source-6.1.tar.xz",
        needed_for="the 6.1 kernel tree (--tree 6.1)",
    ),
    HostTool(
        "linux-source-6.12 tarball",
        "linux-source-6.12",
        path="/usr/src/linux-source-6.12.tar.xz",
        needed_for="the default kernel tree, 6.12 (bookworm-backports)",
    ),
    HostTool("public-inbox", "public-inbox", program="public-inbox-httpd", needed_for=_ARCHIVE),
    HostTool(
        "bubblewrap", "bubblewrap", program="bwrap", needed_for="the sandbox around patch content"
    ),
)


def missing(tools: tuple[HostTool, ...] = TOOLS) -> list[HostTool]:
    return [tool for tool in tools if not tool.present()]


def packages(tools: tuple[HostTool, ...] = TOOLS) -> list[str]:
    """The Debian packages behind ``tools``, once each, in table order."""
    return list(dict.fromkeys(tool.package for tool in tools))


def describe_missing(tools: list[HostTool]) -> str:
    """One line naming each missing tool and what to install."""
    names = ", ".join(f"{t.name} ({t.package}, for {t.needed_for})" for t in tools)
    return (
        f"missing host tools: {names}; run scripts/setup.sh or "
        f"apt-get install {' '.join(packages(tuple(tools)))}"
    )


def require(names: tuple[str, ...]) -> None:
    """Raise InputError naming every tool in ``names`` that is not installed."""
    from patchbot.errors import InputError

    wanted = tuple(tool for tool in TOOLS if tool.name in names)
    unknown = set(names) - {tool.name for tool in wanted}
    if unknown:
        raise ValueError(f"unknown host tools: {sorted(unknown)}")
    absent = missing(wanted)
    if absent:
        raise InputError(describe_missing(absent))


if __name__ == "__main__":  # scripts/setup.sh asks for the package list this way
    print(" ".join(packages()))
