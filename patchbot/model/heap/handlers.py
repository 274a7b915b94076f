"""Handlers for the heap shim's events (patchbot/model/shim/system_heap/pb_heap_rt.c).

Each handler gets the bridge Session and the Event (api, driver function and line, four
long args, ``injected`` when the fault schedule fails this call) and returns what the C
call returns.  Arrays arrive as a pointer to {count, pfn0, npages0, pfn1, npages1, ...}.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable

from patchbot.model.bridge import COMMON_FAULT_KINDS, SLAB_ALLOCATIONS, Event, Handler, Session
from patchbot.model.heap.state import HeapState, Ranges, Site, SiteViolation
from patchbot.model.state import PageModel, Violation, ViolationError

ENOMEM = -errno.ENOMEM
EIO = -errno.EIO

# cc_attr values in pb_heap_kernel.h
CC_ATTR_MEM_ENCRYPT = 0
CC_ATTR_GUEST_MEM_ENCRYPT = 2
CC_ATTR_GUEST_STATE_ENCRYPT = 3
CC_ATTR_GUEST_SEV_SNP = 5

# api -> fault kind: every allocation, conversion and DMA mapping fails once in turn.
# Inserting user PTEs allocates page tables, but the 6.1 heap does it once per page;
# a kind of its own keeps those runs countable and separately reported.
FAULT_KINDS = {
    **COMMON_FAULT_KINDS,
    "alloc_pages": "allocation",
    "sg_alloc_table": "allocation",
    "vmap": "allocation",
    "dma_buf_export": "allocation",
    "dma_heap_add": "allocation",
    "dma_map_sgtable": "dma-map",
    "remap_pfn_range": "user-map",
    "vm_insert_page": "user-map",
}


def read_ranges(ptr: int) -> Ranges:
    arr = ctypes.cast(ptr, ctypes.POINTER(ctypes.c_long))
    count = arr[0]
    return [(arr[1 + 2 * i], arr[2 + 2 * i]) for i in range(count)]


def read_string(ptr: int) -> str:
    value = ctypes.cast(ptr, ctypes.c_char_p).value
    return value.decode(errors="replace") if value else ""


def make_handlers(model: PageModel) -> dict[str, Handler]:
    heap = HeapState.create(model)
    coco = model.platform.coco

    def site(ev: Event) -> Site:
        return Site(ev.func, ev.line)

    def alloc_pages(s: Session, ev: Event) -> int:
        order = ev.args[0]
        if ev.injected:
            return ENOMEM
        pfn = heap.alloc(order, site(ev))
        ev.note = f"order {order} -> pfn {pfn:#x}" if pfn else f"order {order}: no free block"
        return pfn or ENOMEM

    def free_pages(s: Session, ev: Event) -> int:
        pfn, order = ev.args[0], ev.args[1]
        ev.note = f"pfn {pfn:#x} order {order}"
        heap.free(pfn, order, "__free_pages")
        return 0

    def kmalloc(s: Session, ev: Event) -> int:
        if ev.injected:
            return ENOMEM
        heap.kmallocs[ev.args[0]] = site(ev)
        return 0

    def kfree(s: Session, ev: Event) -> int:
        if heap.kmallocs.pop(ev.args[0], None) is None:
            raise ViolationError(
                Violation(
                    "bad-kfree", f"kfree() of {ev.args[0]:#x}, which is not a live allocation", 0
                )
            )
        return 0

    def conversion(to_private: bool) -> Handler:
        def handle(s: Session, ev: Event) -> int:
            pfn, npages = ev.args[0], ev.args[1]
            ev.note = f"pfn {pfn:#x}+{npages}" if pfn >= 0 else f"address {ev.args[2]:#x}"
            if not coco:
                return 0  # §2: a no-op returning 0 without memory encryption
            if pfn < 0:
                raise ViolationError(
                    Violation(
                        "convert-outside-direct-map",
                        f"{ev.api}() of {ev.args[2]:#x}, which is not a direct-map address: only "
                        "the direct map is converted (§2)",
                        0,
                    )
                )
            failed = heap.convert(pfn, npages, to_private, ev.injected, ev.api, ev.partial)
            return EIO if failed else 0

        return handle

    def cc_platform_has(s: Session, ev: Event) -> int:
        attr = ev.args[0]
        has = coco and (
            attr in (CC_ATTR_MEM_ENCRYPT, CC_ATTR_GUEST_MEM_ENCRYPT, CC_ATTR_GUEST_STATE_ENCRYPT)
            or (attr == CC_ATTR_GUEST_SEV_SNP and model.platform.name == "snp")
        )
        ev.note = f"attr {attr} -> {int(has)}"
        return int(has)

    def pgprot_decrypted(s: Session, ev: Event) -> int:
        return int(coco)  # the C-bit mask is zero without memory encryption

    def user_map(s: Session, ev: Event) -> int:
        vma, pfn, npages, enc = ev.args
        ev.note = f"pfn {pfn:#x}+{npages} {'encrypted' if enc else 'decrypted'}"
        if ev.injected:
            return ENOMEM
        heap.map_user(vma, pfn, npages, bool(enc), site(ev))
        return 0

    def vmap(s: Session, ev: Event) -> int:
        vaddr, ptr, count, enc = ev.args
        ev.note = f"{count} pages {'encrypted' if enc else 'decrypted'}"
        if ev.injected:
            return ENOMEM
        heap.vmap(vaddr, read_ranges(ptr), bool(enc), site(ev))
        return 0

    def vunmap(s: Session, ev: Event) -> int:
        return heap.vunmap(ev.args[0])

    def dma_map(s: Session, ev: Event) -> int:
        table, dev, attrs, ptr = ev.args
        ev.note = f"device {dev} attrs {attrs:#x}"
        if ev.injected:
            return ENOMEM
        heap.dma_map(table, dev, read_ranges(ptr), attrs, site(ev))
        return 0

    def dma_unmap(s: Session, ev: Event) -> int:
        heap.dma_unmap(ev.args[0], ev.args[1])
        return 0

    def fails_if_injected(s: Session, ev: Event) -> int:
        return ENOMEM if ev.injected else 0

    def heap_add(s: Session, ev: Event) -> int:
        ev.note = read_string(ev.args[0])
        if ev.injected:
            return ENOMEM
        heap.heaps.append(ev.note)
        return 0

    def warn(s: Session, ev: Event) -> int:
        what = read_string(ev.args[0])
        raise ViolationError(Violation("driver-warning", f"WARN_ON({what}) fires", 0))

    def bug(s: Session, ev: Event) -> int:
        what = read_string(ev.args[0])
        raise ViolationError(Violation("driver-bug", f"BUG: {what}", 0))

    # -- the heap user's steps ------------------------------------------------------------
    def user_munmap(s: Session, ev: Event) -> int:
        heap.unmap_user(ev.args[0])
        return 0

    def user_access(s: Session, ev: Event) -> int:
        for piece in heap.user_maps.get(ev.args[0], []):
            heap.cpu_access(piece, f"{ev.func} through the user mapping")
        return 0

    def vmap_access(s: Session, ev: Event) -> int:
        mapping = heap.vmaps.get(ev.args[0])
        if mapping is None:
            raise ViolationError(
                Violation(
                    "vmap-access-invalid",
                    f"{ev.func} through {ev.args[0]:#x}, which the heap's vmap returned but "
                    "is not a live vmap",
                    0,
                )
            )
        heap.cpu_access(mapping, f"{ev.func} through the vmap")
        return 0

    def device_dma(s: Session, ev: Event) -> int:
        heap.device_dma(ev.args[0], ev.args[1], ev.func)
        return 0

    def scenario_end(s: Session, ev: Event) -> int:
        heap.check_leaks()
        return 0

    handlers: dict[str, Handler] = {
        "alloc_pages": alloc_pages,
        "__free_pages": free_pages,
        "kfree": kfree,
        "set_memory_encrypted": conversion(True),
        "set_memory_decrypted": conversion(False),
        "cc_platform_has": cc_platform_has,
        "pgprot_decrypted": pgprot_decrypted,
        "remap_pfn_range": user_map,
        "vm_insert_page": user_map,
        "vmap": vmap,
        "vunmap": vunmap,
        "dma_map_sgtable": dma_map,
        "dma_unmap_sgtable": dma_unmap,
        "sg_alloc_table": fails_if_injected,
        "dma_buf_export": fails_if_injected,
        "dma_heap_add": heap_add,
        "WARN": warn,
        "BUG": bug,
        "user_munmap": user_munmap,
        "user_access": user_access,
        "vmap_access": vmap_access,
        "device_dma": device_dma,
        "scenario_end": scenario_end,
    }
    for api in SLAB_ALLOCATIONS:
        handlers[api] = kmalloc
    return {api: _at_site(h) for api, h in handlers.items()}


def _at_site(handler: Handler) -> Handler:
    """Report a SiteViolation at the driver line that made the mapping or allocation.

    The bridge anchors a finding at the last driver line of the trace; a bad access
    happens in the heap's user, so the event is re-attributed to the driver call that
    created what was accessed (the note keeps what really happened).
    """

    def wrapped(s: Session, ev: Event) -> int:
        try:
            return handler(s, ev)
        except SiteViolation as exc:
            ev.note = f"{exc.note}, through what was made here" if exc.note else ""
            ev.func, ev.line = exc.site.func, exc.site.line
            raise ViolationError(exc.violation) from None

    return wrapped


HandlerFactory = Callable[[PageModel], dict[str, Handler]]
