"""The bundled model of CoCo guest-memory paths and the userspace driver harness.

The idea (after the kernel's tools/testing/vma and tools/testing/memblock): compile the
real, unmodified (or patched) driver file with gcc in userspace (in the sandbox) against
our own shim headers, load it with ctypes in a sandboxed child, and "boot" it through
lifecycle scenarios while a Python page-state model checks invariants after every event.

Modules
-------
build.py    build_driver(driver_file, tree, shim, rel_source) -> BuildResult | BuildFailure.
            Include order: shim/<driver>/, shim/common/, <tree>/include/uapi.  Compiles the
            driver + csrc/*.c (the bridge) + shim/common/*.c + shim/<driver>/*.c into one
            .so, cached by content hash.  gcc errors become BuildFailure.missing
            ("the shim needs symbol X"), never a crash.
treeshim.py build_following_tree(): the shim that follows the tree.  Only the memory-path
            API is hand-written; what else the driver lacks (headers, macros, enums,
            typedefs, structs, static inlines, extern functions as prototype + zero stub)
            is derived from the tree's headers (treedefs.py) over a few gcc rounds and
            cached per tree; memory-path names become NeedsApi ("model-needs-api").
bridge.py   Session/Event/Fault: the one ctypes callback, event recording, fault injection
            ("fail the Nth call of kind K"), dispatch to per-api handlers.
state.py    PageModel: per-page arrays (host backing, Mem state, owner, direct-map PTE,
            other mappings, DMA mappings); platforms none/tdx/snp; HostProfile;
            Violation/ViolationError.  Edges cite /work/shared/MODEL-FACTS.md sections.
runner.py   DriverHarness protocol; run_matrix() runs every scenario x platform clean,
            then once per fault of child.fault_plan(), in one sandboxed child per core
            (patchbot.sandbox); run_one() is a matrix of one run.  The library is never
            loaded here.
child.py    the sandboxed child: forks per run with a time limit (hang -> "hang" with
            the last events, crash -> "crash", seccomp/limits -> "sandbox/..."); only
            the forked run loads the library, after its seccomp filter is on.
wire.py     the child's records as bounded, schema-checked JSON (never pickle).
findings.py to_findings(): violations -> patchbot.api.Finding (rule = violation name,
            path/line = last driver line in the trace, trace = events, platform, fault).
            One finding per (violation, line); its platform lists every platform
            the violation occurred on ("tdx,snp").
drivers.py  registry "virtio-mem" / "system-heap" -> "module:HARNESS".

Run semantics
-------------
A run goes on after a violation (issue 19).  The page model collects it, with the event
and its trace, and quarantines the pages involved: later touches of them are knock-on
effects and are not reported again.  Each run keeps every distinct violation (once per
name and driver line, at most 16; wire.py carries them all, size-capped).  Only what a
run cannot go on from ends it: a hang, a deadlock, BUG(), a model bug, a shim stub.  A
real TDX guest would stop at a double accept; the model goes on to show what else the
driver would do, so one fault run reaches its fault instead of dying at the same early
violation as every other run.

Scenarios: each driver's fixed lifecycle scripts (every fault kind) and an explored,
bounded set (virtio_mem/explore.py: sequences of resizes, offline/online, cancelled
onlines and device answers; heap/scenarios.py explored_orders(): every order of mmap,
vmap and DMA set-up and teardown), which get the conversion faults.  Faults: every call
of every kind; "partial-conversion" (the call converts the first half of its range, then
fails); pairs of conversion faults when a run makes at most six (child.fault_plan).  An
explored sequence fails only the calls of its last step, and of a cancel right before it
(explore.fault_base: a MEM_CANCEL_ONLINE undo cannot report its failure, so what the
driver does about it shows in the next step).
findings.to_findings() reports each (violation, line) once, on its simplest run
(no fault before a fault before a pair, then fewest steps), across runs and platforms.

Checks tied to driver contexts:
* cancel-without-undo: at the end of the MEM_CANCEL_ONLINE notifier no page of the
  block may be private that was not private when MEM_GOING_ONLINE began
  (PageModel.snapshot / check_undone; the shim emits memory_notify/_done events).
* unplug-after-failed-conversion vs unplug-private: PageModel.begin_operation() marks
  driver contexts (each scenario step, each notifier call).  Unplugging a page whose
  conversion to shared failed in the same context is the former (the driver ignored the
  error); unplugging a page that is private, or unknown from a failure in an earlier
  context that was never retried, is the latter (no conversion before unplug).
* cancel-undo-failure-ignored: a page whose undo failed inside MEM_CANCEL_ONLINE
  (PageModel.note_failed_undo) and that the driver then unplugs, or hands to the buddy,
  without converting it again.  A partial failure of the undo counts too: the pages it
  left private are no more known to the driver than unknown ones.

Violations of issue 19 and the fixture that shows each
------------------------------------------------------
* dma-through-stale-mapping: device DMA through a mapping made before a conversion of
  its pages (PageModel.stale_dma) -- tests/fixtures/model/system_heap/
  cc-shared-share-on-mmap (only the explored orders reach it; with convert-while-mapped).
* cancel-undo-failure-ignored (above) -- tests/fixtures/model/virtio_mem/
  cancel-undo-unchecked.patch (only a conversion fault on the undo, then a step after it).
* after a partial conversion, a caller that is right after a whole failure: retrying the
  accept over the whole range accepts the converted half again, double-accept --
  virtio_mem/retry-accept.patch (only partial-conversion faults).  Likewise re-encrypting
  and then freeing without checking: after a whole failure the re-encryption works,
  after a partial one it fails (the untouched half is still accepted, convert()), and
  the free is free-after-failed-conversion.

Shim conventions (for every driver)
-----------------------------------
* Headers live under shim/common/linux/... (shared) or shim/<driver>/linux/... (one
  driver).  A header in the driver directory shadows the common one.  Add NEW files to
  common/ freely; change an existing common header only additively.
* A wrapped API is a macro that passes the caller's location, e.g.
      #define set_memory_encrypted(a, n) pb_set_memory_encrypted(a, n, PB_LOC)
      int pb_set_memory_encrypted(unsigned long a, int n, PB_LOC_PARAMS)
      { return PB_EV("set_memory_encrypted", a, n, 0, 0); }
  so the Event carries the *driver* function and line (__func__, __LINE__).
* Event args are four longs; pass pfns and page counts (not byte addresses) where you
  can.  Handlers are registered by the harness: ``setup(model) -> {api: handler}``;
  ``handler(session, event) -> int`` returns the C return value and must honour
  ``event.injected`` (the fault schedule failed this call).
* Functions no scenario should reach are stubs: ``PB_STUB(name)`` records
  "__unimplemented" and the run ends with a "shim-unimplemented" result.
* Fault kinds used so far: "conversion" (set_memory_*crypted), "request" (device
  requests), "allocation" (kmalloc/vmalloc/alloc_contig_range...), "hotplug" (core
  hotplug steps that can fail).

Memory layout of the model machine: PAGE_SIZE 4096, MAX_ORDER 5 (16-page max buddy
order), pageblock_order 4, memory block 256 KiB (64 pages).  The virtio-mem region
starts at 1 GiB.  Heaps should register their own region with PageModel.add_region().
"""
