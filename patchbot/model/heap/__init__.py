"""The system-heap half of the bundled model: drivers/dma-buf/heaps/system_heap.c.

Modules
-------
state.py     HeapState: what the shared PageModel does not track for a heap: where each
             user mapping, vmap and DMA mapping was made (driver function and line), the
             DMA attributes, allocation and kmalloc sites; the heap invariants (DMA
             attribute vs page state, conversion or free while mapped, leaks).
handlers.py  the api handlers the bridge dispatches shim events to.
scenarios.py the heap user: allocate, mmap, vmap, attach/map/DMA, cpu access, release.
harness.py   HARNESS, registered as "system-heap" in patchbot.model.drivers.

The C side lives in patchbot/model/shim/system_heap/: pb_heap_kernel.h (every
<linux/...> header the heap includes), pb_heap_rt.c (runtime) and pb_heap_user.c (the
user steps the scenarios call through ctypes).  It shares only pb_bridge.h with the
common shim: the heap needs 1 MiB compound pages, page->lru and its own RAM window.
"""
