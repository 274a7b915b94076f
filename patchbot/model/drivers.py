"""Driver registry: `--driver NAME` -> the harness that builds and boots that driver.

Each entry is "module:attribute" naming a DriverHarness (see patchbot.model.runner),
imported lazily so one driver's import error never breaks another.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from patchbot.errors import InputError

if TYPE_CHECKING:  # the runner pulls in the whole model; `--help` needs only the names
    from patchbot.model.runner import DriverHarness

DRIVERS: dict[str, str] = {
    "virtio-mem": "patchbot.model.virtio_mem.harness:HARNESS",
    "system-heap": "patchbot.model.heap.harness:HARNESS",
}


def get(name: str) -> DriverHarness:
    try:
        target = DRIVERS[name]
    except KeyError:
        raise InputError(f"unknown driver {name!r} (known: {', '.join(sorted(DRIVERS))})") from None
    module, attr = target.split(":")
    harness: DriverHarness = getattr(importlib.import_module(module), attr)
    return harness


def by_source(rel_path: str) -> list[str]:
    """Names of the drivers whose source file is ``rel_path`` (for `validate`)."""
    names = []
    for name in DRIVERS:
        try:
            if get(name).source == rel_path:
                names.append(name)
        except ImportError:
            continue
    return names
