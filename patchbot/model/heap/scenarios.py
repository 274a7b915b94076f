"""The heap's user: lifecycles a dma-heap client goes through, run on every heap the
driver registers.

Sizes cover the three allocation orders of system_heap.c (order 8 = 1 MiB, order 4 =
64 KiB, order 0): 4 KiB, 64 KiB + 4 KiB, and 1 MiB + 64 KiB + 8 KiB.  A step that fails
(because the fault schedule failed a call underneath it) is handled the way a real
client would: no buffer, no mapping, no attachment; the rest of the lifecycle goes on.
A user access, a kernel access or a device DMA is an event the model checks against the
page state (patchbot.model.heap.state).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

KIB = 1024
SMALL = 4 * KIB  # one order-0 page
MEDIUM = 64 * KIB + 4 * KIB  # order 4 + order 0
LARGE = 1024 * KIB + 64 * KIB + 8 * KIB  # order 8 + order 4 + 2 x order 0
PAGE = 4 * KIB

DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE = 0, 1, 2


def configure(lib: ctypes.CDLL) -> None:
    """Declare the C signatures of the user steps (pb_heap_user.c)."""
    lib.pbu_heap_name.restype = ctypes.c_char_p
    lib.pbu_alloc.restype = ctypes.c_long
    lib.pbu_alloc.argtypes = [ctypes.c_int, ctypes.c_ulong]
    lib.pbu_mmap.restype = ctypes.c_long
    lib.pbu_mmap.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]
    lib.pbu_attach.restype = ctypes.c_long


def alloc_release(lib: ctypes.CDLL, heap: int) -> None:
    """Allocate one buffer of each order mix, then release them newest first."""
    bufs = [lib.pbu_alloc(heap, size) for size in (SMALL, MEDIUM, LARGE)]
    for buf in reversed(bufs):
        if buf >= 0:
            lib.pbu_release(buf)


def mmap_access(lib: ctypes.CDLL, heap: int) -> None:
    """mmap windows that start inside one scatterlist entry and end in the next.

    Windows are short: the 6.1 heap inserts one PTE per page and each insertion is a
    fault point, but every failure after the first takes the same unwind path.
    """
    medium = lib.pbu_alloc(heap, MEDIUM)
    if medium >= 0:
        _map_and_touch(lib, medium, 15, 2)  # last page of the 64 KiB chunk + the 4 KiB one
        lib.pbu_release(medium)
    large = lib.pbu_alloc(heap, LARGE)
    if large >= 0:
        _map_and_touch(lib, large, 254, 4)  # end of the 1 MiB chunk into the 64 KiB one
        lib.pbu_release(large)


def _map_and_touch(lib: ctypes.CDLL, buf: int, pgoff: int, npages: int) -> None:
    vma = lib.pbu_mmap(buf, pgoff, npages)
    if vma < 0:
        return
    lib.pbu_user_access(vma, 1)
    lib.pbu_user_access(vma, 0)
    lib.pbu_munmap(vma)


def vmap_access(lib: ctypes.CDLL, heap: int) -> None:
    """vmap twice (the second only takes a reference), access, cpu access, vunmap twice."""
    buf = lib.pbu_alloc(heap, MEDIUM)
    if buf < 0:
        return
    if lib.pbu_vmap(buf) == 0:
        lib.pbu_kernel_access(buf, 1)
        if lib.pbu_vmap(buf) == 0:
            lib.pbu_kernel_access(buf, 0)
            lib.pbu_vunmap(buf)
        if lib.pbu_cpu_access(buf, 1, DMA_BIDIRECTIONAL) == 0:
            lib.pbu_kernel_access(buf, 0)
            lib.pbu_cpu_access(buf, 0, DMA_BIDIRECTIONAL)
        lib.pbu_vunmap(buf)
    lib.pbu_release(buf)


def device_dma(lib: ctypes.CDLL, heap: int) -> None:
    """Two devices attach; each maps the buffer and DMAs both ways around cpu access."""
    buf = lib.pbu_alloc(heap, MEDIUM)
    if buf < 0:
        return
    atts = [lib.pbu_attach(buf, dev) for dev in (0, 1)]
    mapped = []
    for att in atts:
        if att >= 0 and lib.pbu_map_attachment(att, DMA_BIDIRECTIONAL) == 0:
            mapped.append(att)
    for att in mapped:
        lib.pbu_device_dma(att, 1)
    if lib.pbu_cpu_access(buf, 1, DMA_FROM_DEVICE) == 0:
        lib.pbu_cpu_access(buf, 0, DMA_TO_DEVICE)
    for att in mapped:
        lib.pbu_device_dma(att, 0)
        lib.pbu_unmap_attachment(att, DMA_BIDIRECTIONAL)
    for att in atts:
        if att >= 0:
            lib.pbu_detach(att)
    lib.pbu_release(buf)


def full_lifecycle(lib: ctypes.CDLL, heap: int) -> None:
    """One buffer through everything at once: mmap, vmap and a device all live together."""
    buf = lib.pbu_alloc(heap, MEDIUM)
    if buf < 0:
        return
    vma = lib.pbu_mmap(buf, 14, 3)
    vmapped = lib.pbu_vmap(buf) == 0
    att = lib.pbu_attach(buf, 0)
    mapped = att >= 0 and lib.pbu_map_attachment(att, DMA_TO_DEVICE) == 0
    if vma >= 0:
        lib.pbu_user_access(vma, 1)
    if vmapped:
        lib.pbu_kernel_access(buf, 1)
    if lib.pbu_cpu_access(buf, 0, DMA_TO_DEVICE) == 0 and mapped:
        lib.pbu_device_dma(att, 0)
    if mapped:
        lib.pbu_unmap_attachment(att, DMA_TO_DEVICE)
    if att >= 0:
        lib.pbu_detach(att)
    if vmapped:
        lib.pbu_vunmap(buf)
    if vma >= 0:
        lib.pbu_munmap(vma)
    lib.pbu_release(buf)


SCENARIOS: dict[str, Callable[[ctypes.CDLL, int], None]] = {
    "alloc-release": alloc_release,
    "mmap-access": mmap_access,
    "vmap-access": vmap_access,
    "device-dma": device_dma,
    "full-lifecycle": full_lifecycle,
}


# -- explored orders ---------------------------------------------------------------------
# One buffer; what a user can set up on it: M (mmap 3 pages across the 64 KiB/4 KiB
# boundary, then load and store through them), V (vmap, kernel load and store), D
# (attach a device, DMA-map, DMA both ways).  Each set-up thing is torn down (m, v, d)
# before the buffer is released: the dma-buf core defers ->release until the last
# mapping and attachment are gone, so no user order releases earlier.  After everything
# is set up, every live view is used again, and after each teardown the remaining ones.
SETUPS = "MVD"


def explored_orders() -> list[str]:
    """Every subset of M/V/D, every set-up order x every teardown order: 52 sequences."""
    import itertools

    out = []
    for k in range(len(SETUPS) + 1):
        for subset in itertools.combinations(SETUPS, k):
            for setup in itertools.permutations(subset):
                for teardown in itertools.permutations(subset):
                    out.append(f"seq:{''.join(setup)}-{''.join(teardown).lower()}")
    return out


def explored_step(name: str) -> Callable[[ctypes.CDLL, int], None]:
    setup, _, teardown = name.removeprefix("seq:").partition("-")
    if sorted(setup) != sorted(teardown.upper()) or set(setup) - set(SETUPS):
        raise ValueError(f"not an explored heap order: {name!r}")

    def step(lib: ctypes.CDLL, heap: int) -> None:
        buf = lib.pbu_alloc(heap, MEDIUM)
        if buf < 0:
            return
        live: dict[str, int] = {}
        for what in setup:
            if what == "M":
                vma = lib.pbu_mmap(buf, 14, 3)
                if vma >= 0:
                    live["M"] = vma
            elif what == "V":
                if lib.pbu_vmap(buf) == 0:
                    live["V"] = buf
            else:
                att = lib.pbu_attach(buf, 0)
                if att >= 0 and lib.pbu_map_attachment(att, DMA_BIDIRECTIONAL) == 0:
                    live["D"] = att
                elif att >= 0:
                    lib.pbu_detach(att)
            _use(lib, live)
        for what in teardown.upper():
            handle = live.pop(what, None)
            if handle is None:
                continue
            if what == "M":
                lib.pbu_munmap(handle)
            elif what == "V":
                lib.pbu_vunmap(buf)
            else:
                lib.pbu_unmap_attachment(handle, DMA_BIDIRECTIONAL)
                lib.pbu_detach(handle)
            _use(lib, live)
        lib.pbu_release(buf)

    return step


def _use(lib: ctypes.CDLL, live: dict[str, int]) -> None:
    """Every live view of the buffer is used: a store, then a load."""
    if "M" in live:
        lib.pbu_user_access(live["M"], 1)
        lib.pbu_user_access(live["M"], 0)
    if "V" in live:
        lib.pbu_kernel_access(live["V"], 1)
        lib.pbu_kernel_access(live["V"], 0)
    if "D" in live:
        lib.pbu_device_dma(live["D"], 1)
        lib.pbu_device_dma(live["D"], 0)
