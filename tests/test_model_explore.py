"""Issue 19 without building a driver: runs that go on after a violation, quarantine and
de-duplication, the bounded wire format, partial conversions, stale DMA mappings, the
explored sequences and which run a finding is reported on."""

from __future__ import annotations

import json

import pytest

from patchbot.model.bridge import MAX_VIOLATIONS, TRACE_LEN, Event, Fault, Session
from patchbot.model.findings import reproducer_rank, to_findings
from patchbot.model.heap.harness import HARNESS as HEAP
from patchbot.model.heap.scenarios import explored_orders, explored_step
from patchbot.model.heap.state import DMA_ATTR_CC_SHARED, HeapState, Site
from patchbot.model.runner import RunResult
from patchbot.model.state import PLATFORMS, Mem, Owner, PageModel, Violation, ViolationError
from patchbot.model.virtio_mem import explore
from patchbot.model.virtio_mem.harness import HARNESS as VIRTIO_MEM
from patchbot.model.wire import (
    MAX_RECORD,
    BadRecord,
    payload_from_json,
    payload_to_json,
    run_from_json,
    run_to_json,
)

BASE = 0x1000


def model_on(platform: str, n: int = 16, mem: Mem = Mem.PRIVATE) -> PageModel:
    model = PageModel(PLATFORMS[platform])
    model.add_region(BASE, n, backed=True, mem=mem, owner=Owner.ALLOCATED)
    return model


def convert_handler(to_private: bool):
    def handle(s: Session, ev: Event) -> int:
        failed = s.model.convert(
            ev.args[0], ev.args[1], to_private, ev.injected, ev.api, ev.partial
        )
        return -5 if failed else 0

    return handle


def session_on(platform: str, fault: Fault | None = None) -> Session:
    model = model_on(platform)
    session = Session(
        model,
        {
            "set_memory_encrypted": convert_handler(True),
            "set_memory_decrypted": convert_handler(False),
        },
        {"set_memory_encrypted": "conversion", "set_memory_decrypted": "conversion"},
        fault,
    )
    model.collect = True  # what Session.attach() does for a loaded driver
    return session


def call(s: Session, api: str, line: int, pfn: int, n: int) -> int:
    # the ctypes callback, called the way the shim calls it
    return s._dispatch(api.encode(), b"drv_func", line, pfn, n, 0, 0)


# -- a run goes on ---------------------------------------------------------------------
def test_a_run_reports_every_distinct_violation_and_goes_on():
    s = session_on("tdx")
    call(s, "set_memory_encrypted", 10, BASE, 2)  # already private: double accept
    call(s, "set_memory_encrypted", 20, BASE + 4, 2)  # another line, other pages
    assert [v.name for v in s.violations] == ["double-accept", "double-accept"]
    assert [v.event.line for v in s.violations] == [10, 20]
    assert not s.ended
    # the run went on: the pages were converted, decrypting them works
    assert call(s, "set_memory_decrypted", 30, BASE + 8, 2) == 0
    assert s.model.mem[8] == Mem.SHARED


def test_quarantined_pages_are_not_reported_again():
    s = session_on("tdx")
    call(s, "set_memory_encrypted", 10, BASE, 2)
    call(s, "set_memory_encrypted", 11, BASE, 2)  # same pages, a knock-on effect
    assert len(s.violations) == 1
    assert s.model.quarantined(BASE) and not s.model.quarantined(BASE + 2)


def test_the_same_violation_at_the_same_line_is_kept_once():
    s = session_on("tdx")
    for pfn in (BASE, BASE + 2, BASE + 4):
        call(s, "set_memory_encrypted", 10, pfn, 2)  # a loop in the driver
    assert len(s.violations) == 1


def test_a_direct_model_call_still_raises_every_time():
    model = model_on("tdx")
    for _ in range(2):
        with pytest.raises(ViolationError):
            model.convert(BASE, 1, True, False, "set_memory_encrypted")


def test_a_fatal_violation_ends_the_run():
    s = session_on("tdx")
    ended: list[int] = []
    s.on_violation = lambda sess: ended.append(len(sess.violations))

    def bug(sess: Session, ev: Event) -> int:
        sess.fail("bug", "BUG() reached")
        return 0

    s.handlers = {**s.handlers, "BUG": bug}
    call(s, "set_memory_encrypted", 10, BASE, 1)
    assert ended == []
    call(s, "BUG", 12, 0, 0)
    assert ended == [2] and s.ended


# -- the wire --------------------------------------------------------------------------
def _violation(k: int) -> Violation:
    trace = [
        Event(i, "set_memory_decrypted", "virtio_mem_sbm_plug_and_add_mb", 1000 + i, (1, 2, 3, 4))
        for i in range(TRACE_LEN)
    ]
    return Violation(f"kind-{k}", "m" * 300, BASE + k, trace[-1], trace)


def test_the_wire_carries_every_violation_of_a_run_within_its_cap():
    violations = [_violation(k) for k in range(MAX_VIOLATIONS)]
    data = payload_to_json(violations, {"conversion": 3}, 99)
    assert len(data) < MAX_RECORD
    back, counts, _events = payload_from_json(data)
    assert [v.name for v in back] == [v.name for v in violations]
    assert back[3].trace[-1].line == 1000 + TRACE_LEN - 1 and counts == {"conversion": 3}
    pair = Fault("conversion", 2, Fault("conversion", 5))
    line = run_to_json("sbm:r10,off1", "tdx", pair, violations[:2], {}, 5, 0.1)
    _scenario, _, fault, got, *_ = run_from_json(line, {"sbm:r10,off1"}, {"tdx"})
    assert fault == pair and fault.describe() == "conversion#2+conversion#5"
    assert [v.name for v in got] == ["kind-0", "kind-1"]


def test_the_wire_refuses_more_violations_than_a_run_keeps():
    record = json.loads(payload_to_json([_violation(0)], {}, 1))
    record["violations"] = record["violations"] * (MAX_VIOLATIONS + 1)
    with pytest.raises(BadRecord):
        payload_from_json(json.dumps(record).encode())


# -- partial conversions ---------------------------------------------------------------
def test_a_partial_conversion_converts_half_and_a_rollback_of_the_rest_fails():
    model = model_on("tdx", n=4)
    model.collect = True
    assert model.convert(BASE, 4, False, True, "set_memory_decrypted", partial=True)
    assert list(model.mem[0:4]) == [Mem.SHARED, Mem.SHARED, Mem.PRIVATE, Mem.PRIVATE]
    # upstream's pattern: re-encrypt, free only on success -- here it fails (the second
    # half is already accepted), and that is not a violation: the caller leaks
    assert model.convert(BASE, 4, True, False, "set_memory_encrypted")
    assert model.pending == []
    # freeing anyway is
    model.to_buddy(BASE, 4, "__free_pages")
    assert {v.name for v in model.pending} == {"free-after-failed-conversion"}


def test_after_a_full_failure_the_same_rollback_succeeds():
    # what the partial fault adds: with a whole-range failure the re-encryption works
    model = model_on("tdx", n=4)
    model.collect = True
    assert model.convert(BASE, 4, False, True, "set_memory_decrypted")
    assert not model.convert(BASE, 4, True, False, "set_memory_encrypted")
    model.to_buddy(BASE, 4, "__free_pages")
    assert model.pending == []


def test_partial_faults_count_only_multi_page_conversions():
    s = session_on("tdx", Fault("partial-conversion", 1))
    call(s, "set_memory_decrypted", 10, BASE, 1)
    call(s, "set_memory_decrypted", 11, BASE + 2, 4)
    assert s.counts == {"conversion": 2, "partial-conversion": 1}
    assert [e.injected for e in s.events] == [False, True]
    assert list(s.model.mem[2:6]) == [Mem.SHARED, Mem.SHARED, Mem.PRIVATE, Mem.PRIVATE]


def test_a_pair_of_faults_fails_both_calls():
    s = session_on("tdx", Fault("conversion", 1, Fault("conversion", 3)))
    for k in range(4):
        call(s, "set_memory_decrypted", 10 + k, BASE + 2 * k, 2)
    assert [e.injected for e in s.events] == [True, False, True, False]


# -- stale DMA mappings (seed 004) -------------------------------------------------------
def test_dma_through_a_mapping_made_before_a_conversion_is_a_violation():
    heap = HeapState.create(PageModel(PLATFORMS["tdx"]))
    site = Site("heap_map_dma_buf", 148)
    pfn = heap.alloc(1, site)
    heap.dma_map(1, 0, [(pfn, 2)], 0, site)
    heap.device_dma(1, 0, "device DMA")  # private pages, private mapping: fine
    heap.convert(pfn, 2, False, False, "set_memory_decrypted")
    with pytest.raises(ViolationError) as exc:
        heap.device_dma(1, 0, "device DMA")
    assert exc.value.violation.name == "dma-through-stale-mapping"


def test_a_dma_mapping_made_after_the_conversion_is_not_stale():
    heap = HeapState.create(PageModel(PLATFORMS["tdx"]))
    site = Site("heap_map_dma_buf", 148)
    pfn = heap.alloc(1, site)
    heap.convert(pfn, 2, False, False, "set_memory_decrypted")
    heap.dma_map(1, 0, [(pfn, 2)], DMA_ATTR_CC_SHARED, site)
    heap.device_dma(1, 0, "device DMA")


# -- exploration -----------------------------------------------------------------------
def test_virtio_mem_sequences_are_bounded_breadth_first_and_parse_back():
    seqs = explore.sequences()
    n = len(explore.ALPHABET)
    assert len(seqs) == len(explore.MODES) * sum(n**k for k in range(explore.DEPTH + 1))
    assert seqs[0] == "sbm:r10" and seqs[1] == "bbm:r10"
    lengths = [len(explore.parse(s)[1]) for s in seqs]
    assert lengths == sorted(lengths)
    assert explore.parse("bbm:r10,cancel1,on1") == ("bbm", ["r10", "cancel1", "on1"])
    assert explore.fault_base("sbm:r10,off1,on1") == "sbm:r10,off1"
    assert explore.fault_base("sbm:r10") is None
    assert str(len(seqs)) in VIRTIO_MEM.bound()
    assert VIRTIO_MEM.fault_kinds_for("sbm:r10") == {"conversion", "partial-conversion"}
    assert VIRTIO_MEM.fault_kinds_for("lifecycle-sbm") is None


def test_heap_orders_cover_every_setup_and_teardown_order():
    orders = explored_orders()
    assert len(orders) == 52 and len(set(orders)) == 52
    assert "seq:DM-md" in orders and "seq:MVD-dvm" in orders and "seq:-" in orders
    explored_step("seq:DM-dm")
    with pytest.raises(ValueError):
        explored_step("seq:DM-d")  # M is never torn down
    assert "52 orders" in HEAP.bound()


def test_a_violation_is_reported_on_its_simplest_run():
    def run(scenario: str, fault: Fault | None, line: int) -> RunResult:
        ev = Event(1, "set_memory_encrypted", "virtio_mem_accept", line, ())
        return RunResult(scenario, "tdx", fault, [Violation("double-accept", "m", BASE, ev, [ev])])

    runs = [
        run("lifecycle-sbm", None, 836),
        run("sbm:r10,off1,on1", None, 836),
        run("sbm:r10,cancel1", Fault("conversion", 1), 836),
        run("sbm:r10,on1", None, 836),
    ]
    assert sorted(runs, key=reproducer_rank)[0].scenario == "sbm:r10,on1"
    source = "static int virtio_mem_accept(void)\n{\n}\n"
    (finding,) = to_findings(runs, "drivers/virtio/virtio_mem.c", source)
    assert finding.message.startswith("[sbm:r10,on1]") and finding.fault == "none"


# -- a MEM_CANCEL_ONLINE undo that fails ---------------------------------------------------
@pytest.mark.parametrize(
    ("noted", "expected"), [(True, "cancel-undo-failure-ignored"), (False, "unplug-private")]
)
def test_unplugging_pages_whose_cancel_undo_failed(noted, expected):
    model = model_on("tdx", n=4, mem=Mem.UNACCEPTED)
    model.convert(BASE, 4, True, False, "set_memory_encrypted")  # MEM_GOING_ONLINE
    op = model.begin_operation()  # MEM_CANCEL_ONLINE: the undo fails, nobody can tell
    model.convert(BASE, 4, False, True, "set_memory_decrypted")
    if noted:
        model.note_failed_undo(BASE, 4, op)
    model.begin_operation()  # a later resize unplugs the offline block as it is
    model.set_owner(BASE, 4, Owner.OFFLINE)
    with pytest.raises(ViolationError) as exc:
        model.host_unplug(BASE, 4)
    assert exc.value.violation.name == expected


def test_a_cancel_undo_retried_later_is_fine():
    model = model_on("tdx", n=4, mem=Mem.UNACCEPTED)
    model.convert(BASE, 4, True, False, "set_memory_encrypted")
    op = model.begin_operation()
    model.convert(BASE, 4, False, True, "set_memory_decrypted")
    model.note_failed_undo(BASE, 4, op)
    model.begin_operation()
    model.convert(BASE, 4, False, False, "set_memory_decrypted")  # converted before unplug
    model.set_owner(BASE, 4, Owner.OFFLINE)
    model.host_unplug(BASE, 4)


# -- lint confirmed by running ----------------------------------------------------------
def test_confirm_matches_a_faulted_run_on_the_lint_path_and_explains_the_rest():
    from patchbot.api import Finding, Location, Severity
    from patchbot.model.runner import MatrixResult
    from patchbot.validate.boot import BootReport
    from patchbot.validate.confirm import confirm, render

    src = "drivers/virtio/virtio_mem.c"

    def lint(rule: str, line: int, func: str, notes: list[str]) -> Finding:
        trace = [Location(src, line, function=func, note=n) for n in notes]
        return Finding(rule, Severity.ERROR, "m", src, line, function=func, trace=trace)

    leak = lint(
        "leak-on-failure",
        2011,
        "virtio_mem_sbm_unplug_sb_online",
        ["virtio_mem_coco_share() fails here", "virtio_mem_fake_online() called here"],
    )
    other = lint("leak-on-failure", 1755, "f", ["virtio_mem_coco_accept() fails here"])
    ordering = lint("conversion-ordering", 900, "g", [])
    model = Finding(
        "free-after-failed-conversion",
        Severity.ERROR,
        "[sbm:r10,r4] free_contig_range() hands ...",
        src,
        1214,
        function="virtio_mem_fake_online",
        trace=[
            Location(src, 843, function="virtio_mem_coco_share", note="x fails (injected)"),
            Location(src, 1214, function="virtio_mem_fake_online", note="free_contig_range"),
        ],
        platform="tdx",
        fault="conversion#4",
    )
    report = BootReport("virtio-mem", src, [model], MatrixResult())
    got = confirm([leak, other, ordering], [report])
    assert [c.model is not None for c in got] == [True, False, False]
    assert "steps sbm:r10,r4, fault conversion#4" in got[0].describe()
    assert "no explored sequence x fault showed" in got[1].reason
    assert got[2].reason == "the model has no counterpart for it"
    assert render(got).startswith("lint confirmed by running: 1 of 3")
