"""The virtio-mem harness: builds drivers/virtio/virtio_mem.c and boots it in scenarios.

Machine: memory block 256 KiB (64 pages); the device region is 4 memory blocks at 1 GiB.
SBM runs with a 64 KiB device block (4 subblocks per memory block), BBM with a 256 KiB
device block (one big block per memory block).  The hotplug core onlines added memory
(memhp_default_state=online); the scenario offlines and re-onlines blocks itself.

Scenarios are the two fixed lifecycle scripts (every fault kind runs on them) and the
explored sequences (patchbot.model.virtio_mem.explore): "sbm:r10,cancel1,on1" is
probe, resize to 10 x 64 KiB, online block 1 with another notifier refusing, online
block 1.  Explored sequences get the conversion faults (single, partial, pairs).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable

from patchbot.model.bridge import COMMON_FAULT_KINDS, Event, Handler, Session
from patchbot.model.state import Owner, PageModel
from patchbot.model.virtio_mem import explore
from patchbot.model.virtio_mem.device import RESP_BUSY, RESP_ERROR, RESP_NACK, VirtioMemDevice

PAGE = 4096
BLOCK = 64 * PAGE  # memory_block_size_bytes() in the shim
REGION_BASE = 1 << 30
REGION_BLOCKS = 4
RUN_STEPS = 2000  # work items + timer expiries per settle before we call it a hang
FEATURE_UNPLUGGED_INACCESSIBLE = 1

MEM_GOING_ONLINE, MEM_CANCEL_ONLINE, MEM_OFFLINE = 1 << 3, 1 << 4, 1 << 2
NOTIFY_NAMES = {
    1 << 0: "MEM_ONLINE",
    1 << 1: "MEM_GOING_OFFLINE",
    1 << 2: "MEM_OFFLINE",
    1 << 3: "MEM_GOING_ONLINE",
    1 << 4: "MEM_CANCEL_ONLINE",
    1 << 5: "MEM_CANCEL_OFFLINE",
}


class VirtioMemHarness:
    name = "virtio-mem"
    source = "drivers/virtio/virtio_mem.c"
    shim = "virtio_mem"
    fault_kinds = {
        **COMMON_FAULT_KINDS,
        "virtio_mem_request": "request",
        "kstrdup": "allocation",
        "alloc_contig_range": "allocation",
        "add_memory_driver_managed": "allocation",
        "online_pages": "hotplug",
        "offline_pages": "hotplug",
    }
    SCENARIOS = {"lifecycle-sbm": 16, "lifecycle-bbm": 64}  # device block size in pages
    MODES = {"sbm": 16, "bbm": 64}
    EXPLORED_FAULTS = frozenset({"conversion", "partial-conversion"})

    def scenarios(self) -> list[str]:
        return [*self.SCENARIOS, *explore.sequences()]

    def bound(self) -> str:
        return f"{len(self.SCENARIOS)} lifecycle scripts + {explore.bound()}"

    def fault_base(self, scenario: str) -> str | None:
        """The sequence whose calls need no faults here (explore.fault_base)."""
        return None if scenario in self.SCENARIOS else explore.fault_base(scenario)

    def shard(self, scenario: str) -> str:
        """Runs of one shard share a sandboxed child: a sequence with its prefixes."""
        return scenario.split(":")[0]

    def fault_kinds_for(self, scenario: str) -> frozenset[str] | None:
        """Every kind on the lifecycle scripts; conversions only on explored sequences."""
        return None if scenario in self.SCENARIOS else self.EXPLORED_FAULTS

    def setup(self, model: PageModel) -> dict[str, Handler]:
        model.add_region(
            REGION_BASE // PAGE,
            REGION_BLOCKS * BLOCK // PAGE,
            backed=False,
            mem=model.host.plugged_arrives,
        )
        self.device: VirtioMemDevice | None = None
        self.refuse_online = False  # another notifier refuses the next online
        self.answer: int | None = None  # the device's answer to the next request
        # Mem state of a block when MEM_GOING_ONLINE began, keyed by its first pfn
        self._before_online: dict[int, bytes] = {}
        self._cancel_op: dict[int, int] = {}  # operation of the running MEM_CANCEL_ONLINE
        return {
            "memory_notify": self._notify,
            "memory_notify_done": self._notify_done,
            "set_memory_encrypted": lambda s, ev: self._convert(s, ev, True),
            "set_memory_decrypted": lambda s, ev: self._convert(s, ev, False),
            "cc_platform_has": lambda s, ev: int(s.model.platform.coco),
            "virtio_mem_request": self._request,
            "alloc_contig_range": self._alloc_contig,
            "free_contig_range": lambda s, ev: self._to_buddy(s, ev, "free_contig_range"),
            "generic_online_page": lambda s, ev: self._to_buddy(s, ev, "generic_online_page"),
            "online_pages_done": self._online_done,
            "offline_pages": self._offline_pages,
            "remove_memory": self._remove,
            "add_memory_driver_managed": self._add_memory,
            "__hang_wait": _hang,
            "__deadlock": _deadlock,
            "BUG": _bug,
            "__bad_pfn": _bad_pfn,
            **{
                api: _alloc
                for api, kind in self.fault_kinds.items()
                if kind == "allocation"
                and api not in ("alloc_contig_range", "add_memory_driver_managed")
            },
            "online_pages": self._online_pages,
            "virtio_find_single_vq": _injected_errno,
        }

    # -- handlers ------------------------------------------------------------------------
    def _convert(self, s: Session, ev: Event, to_private: bool) -> int:
        pfn, n = ev.args[0], ev.args[1]
        failed = s.model.convert(pfn, n, to_private, ev.injected, ev.api, ev.partial)
        if failed and s.model.platform.coco:
            return -5  # -EIO, as __set_memory_enc_pgtable() reports a VMM failure (§2)
        return 0

    def _notify(self, s: Session, ev: Event) -> int:
        action, pfn, n = ev.args[0], ev.args[1], ev.args[2]
        ev.note = NOTIFY_NAMES.get(action, hex(action))
        # A notifier is its own driver context: a conversion that fails inside it (at
        # MEM_OFFLINE it cannot even report the failure) is not one the code around
        # a later unplug request saw, so that code must convert again (host_unplug).
        op = s.model.begin_operation()
        if action == MEM_GOING_ONLINE:
            self._before_online[pfn] = s.model.snapshot(pfn, n)
        if action == MEM_CANCEL_ONLINE:
            self._cancel_op[pfn] = op
        return 0

    def _notify_done(self, s: Session, ev: Event) -> int:
        action, pfn, n = ev.args[0], ev.args[1], ev.args[2]
        ev.note = NOTIFY_NAMES.get(action, hex(action)) + " returned"
        s.model.begin_operation()
        before = self._before_online.pop(pfn, None) if action != MEM_GOING_ONLINE else None
        if action == MEM_CANCEL_ONLINE and before is not None:
            s.model.check_undone(pfn, n, before, "MEM_CANCEL_ONLINE")
        if action == MEM_CANCEL_ONLINE and pfn in self._cancel_op:
            s.model.note_failed_undo(pfn, n, self._cancel_op.pop(pfn))
        return 0

    def _request(self, s: Session, ev: Event) -> int:
        assert self.device is not None
        if ev.injected:
            ev.note = "device answers BUSY"
            return 2  # VIRTIO_MEM_RESP_BUSY
        rtype, addr, nb = ev.args[0], ev.args[1], ev.args[2]
        ev.note = ("PLUG", "UNPLUG", "UNPLUG_ALL", "STATE")[rtype] if rtype < 4 else "?"
        if self.answer is not None:  # an explored step: the device refuses this once
            answer, self.answer = self.answer, None
            ev.note += " -> " + {RESP_NACK: "NACK", RESP_BUSY: "BUSY"}.get(answer, "ERROR")
            return answer
        resp = self.device.request(rtype, addr, nb)
        self._push_config(s)
        return resp

    def _alloc_contig(self, s: Session, ev: Event) -> int:
        if ev.injected:
            return -16  # -EBUSY: a page could not be migrated
        return 0 if s.model.from_buddy(ev.args[0], ev.args[1]) else -16

    def _to_buddy(self, s: Session, ev: Event, api: str) -> int:
        s.model.to_buddy(ev.args[0], ev.args[1], api)
        return 0

    def _online_done(self, s: Session, ev: Event) -> int:
        pfn, n = ev.args[0], ev.args[1]
        for i in range(n):  # what the callback kept out of the buddy is fake-offline
            if s.model.owners(pfn + i, 1) == {Owner.OFFLINE}:
                s.model.set_owner(pfn + i, 1, Owner.FAKE_OFFLINE)
        return 0

    def _online_pages(self, s: Session, ev: Event) -> int:
        if self.refuse_online:  # an explored "cancel" step: a later notifier says no
            self.refuse_online = False
            ev.note = "another notifier refuses the online"
            return -16
        return -12 if ev.injected else 0

    def _offline_pages(self, s: Session, ev: Event) -> int:
        if ev.injected:
            return -16
        pfn, n = ev.args[0], ev.args[1]
        # only the driver allocates here, and it marks what it allocates PageOffline
        s.model.set_owner(pfn, n, Owner.OFFLINE)
        return 0

    def _add_memory(self, s: Session, ev: Event) -> int:
        if ev.injected:
            return -12
        s.model.set_owner(ev.args[0], ev.args[1], Owner.OFFLINE)
        return 0

    def _remove(self, s: Session, ev: Event) -> int:
        s.model.set_owner(ev.args[0], ev.args[1], Owner.ABSENT)
        return 0

    def _push_config(self, s: Session) -> None:
        d = self.device
        assert d is not None and s.lib is not None
        u64 = ctypes.c_uint64
        s.lib.pb_vm_set_config(
            u64(d.block_size),
            u64(d.addr),
            u64(d.region_size),
            u64(d.usable_region_size),
            u64(d.plugged_size),
            u64(d.requested_size),
        )

    # -- scenario --------------------------------------------------------------------------
    def run(self, session: Session, scenario: str) -> None:
        with contextlib.suppress(_Stuck):  # the run ends there, with what it found
            self._run(session, scenario)

    def _run(self, session: Session, scenario: str) -> None:
        lib = session.lib
        assert lib is not None
        if scenario in self.SCENARIOS:
            mode_pages, steps = self.SCENARIOS[scenario], None
        else:
            mode, steps = explore.parse(scenario)
            mode_pages = self.MODES[mode]
        dev = VirtioMemDevice(session.model, REGION_BASE, REGION_BLOCKS * BLOCK, mode_pages * PAGE)
        self.device = dev
        first_mb = (REGION_BASE // PAGE - 0x40000) // 64

        def settle() -> None:
            if lib.pb_run_pending(ctypes.c_long(RUN_STEPS)) < 0:
                model = session.model
                if any(model.conversion_failed(i) for i in range(model.n)):
                    # memory the driver leaked after a failed conversion (§3) can never
                    # be unplugged: retrying (with backoff) is what it should do
                    raise _Stuck
                session.record_hang("the driver keeps retrying without settling")

        def resize(nbytes: int) -> None:
            session.model.begin_operation()
            dev.requested_size = nbytes
            self._push_config(session)
            lib.pb_vm_config_changed()
            settle()

        def block(mb: int, online: bool) -> None:
            fn: Callable[[ctypes.c_long], int] = (
                lib.pb_vm_online_block if online else lib.pb_vm_offline_block
            )
            session.model.begin_operation()
            fn(ctypes.c_long(first_mb + mb))
            settle()

        self._push_config(session)
        if lib.pb_vm_probe(ctypes.c_uint64(1 << FEATURE_UNPLUGGED_INACCESSIBLE)) != 0:
            return  # probe failed cleanly (an injected allocation failure)
        settle()
        if steps is not None:
            for step in steps:
                if step.startswith("r"):
                    resize(int(step[1:]) * 16 * PAGE)
                elif step.startswith("off"):
                    block(int(step[3:]), online=False)
                elif step.startswith("on"):
                    block(int(step[2:]), online=True)
                elif step.startswith("cancel"):
                    mb = int(step[6:])
                    block(mb, online=False)  # (no-op when it is offline already)
                    self.refuse_online = True
                    block(mb, online=True)
                    self.refuse_online = False
                else:
                    self.answer = ANSWERS[step]
                    # the device refuses the next request once; the driver's retry
                    # (timer) then gets the normal answer
            lib.pb_vm_remove()
            return
        resize(10 * 16 * PAGE)  # 2.5 memory blocks: two full blocks and a partial one
        block(1, online=False)  # offline a full block ...
        block(1, online=True)  # ... and re-online it
        block(2, online=False)  # the partial block goes offline
        resize(5 * 16 * PAGE)  # unplug offline memory first, then online memory
        block(1, online=False)  # offline a partly fake-offline block and re-online it
        block(1, online=True)
        resize(8 * 16 * PAGE)  # grow again into plugged-online blocks
        resize(0)  # unplug all
        lib.pb_vm_remove()


def _alloc(s: Session, ev: Event) -> int:
    return 1 if ev.injected else 0


def _injected_errno(s: Session, ev: Event) -> int:
    return -12 if ev.injected else 0


ANSWERS = {"nack": RESP_NACK, "busy": RESP_BUSY, "error": RESP_ERROR}


class _Stuck(Exception):
    """The driver keeps retrying an unplug of memory it leaked: nothing more will happen."""


def _hang(s: Session, ev: Event) -> int:
    s.fail("hang", "wait_event() would sleep forever: no completion will come")
    return 0


def _deadlock(s: Session, ev: Event) -> int:
    s.fail("deadlock", "mutex_lock() on a mutex this context already holds")
    return 0


def _bug(s: Session, ev: Event) -> int:
    s.fail("bug", "BUG() reached")
    return 0


def _bad_pfn(s: Session, ev: Event) -> int:
    s.fail("bad-pfn", f"pfn {ev.args[0]:#x} has no struct page in the model")
    return 0


HARNESS = VirtioMemHarness()
