"""Per-page state of guest memory across every layer, platform profiles, and invariants.

State is kept in flat arrays indexed by page (one bytearray per layer), never one Python
object per 4K page.  Only pages of registered regions are tracked (the virtio-mem device
region, a heap's pool...).  Every operation checks the invariants on the pages it
touches, which is equivalent to checking all pages after every event because no other
page changed.

A violation either raises :class:`ViolationError` (the default, for direct use) or, with
``collect`` set (a model run: patchbot.model.bridge.Session sets it), is appended to
``pending`` while the operation completes, so the run goes on.  In a run the page is
then quarantined: later touches of it are not reported again, because they are knock-on
effects of the first violation, not new defects.

Platform edges follow /work/shared/MODEL-FACTS.md (section numbers cited inline):
  none  no memory encryption: conversions are no-ops (§2: set_memory_*() return 0
        without CC_ATTR_MEM_ENCRYPT); only host backing and ownership are checked.
  tdx   accept = TDG.MEM.PAGE.ACCEPT inside set_memory_encrypted() (§2a); accepting an
        accepted page is fatal in Linux (§4); accepting unbacked memory is invalid (§4).
  snp   validate = PVALIDATE; validating a validated page is PVALIDATE_FAIL_NOUPDATE and
        Linux terminates the guest (§5).  Otherwise the same edges as tdx (§12).
The host profile (§11, a project design decision) says in which state plugged memory
arrives and which states unplugged memory may be returned in.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any


class Mem(enum.IntEnum):
    """Host/hardware view of a page merged with the guest's accept state (§12)."""

    UNACCEPTED = 0  # TDX PENDING / SNP not validated / not plugged
    PRIVATE = 1  # accepted or validated, private
    SHARED = 2  # converted to shared
    UNKNOWN = 3  # after a failed conversion in either direction (§3)


class Owner(enum.IntEnum):
    ABSENT = 0  # not added to the system (no memmap, no direct map)
    OFFLINE = 1  # added, memory block offline
    BUDDY = 2  # free in the buddy allocator
    ALLOCATED = 3  # handed out by the buddy (alloc_contig_range, alloc_pages)
    FAKE_OFFLINE = 4  # online block, kept out of the buddy by the driver
    LEAKED = 5  # deliberately never freed (terminal)


class LastConversion(enum.IntEnum):
    """The most recent set_memory_*crypted() call on a page and how it ended."""

    NONE = 0
    TO_PRIVATE = 1
    TO_SHARED = 2
    TO_PRIVATE_FAILED = 3
    TO_SHARED_FAILED = 4


class Pte(enum.IntEnum):
    NONE = 0
    ENCRYPTED = 1  # private mapping (C-bit set / TDX shared bit clear)
    DECRYPTED = 2  # shared mapping


@dataclass(frozen=True)
class Platform:
    name: str
    coco: bool
    accept_name: str  # what the trusted side calls it, for messages

    def describe(self) -> str:
        return self.name


PLATFORMS = {
    "none": Platform("none", False, "accept"),
    "tdx": Platform("tdx", True, "TDG.MEM.PAGE.ACCEPT"),  # §4
    "snp": Platform("snp", True, "PVALIDATE"),  # §5
}


@dataclass(frozen=True)
class HostProfile:
    """§11: not specified upstream; this is the project's default host ABI."""

    plugged_arrives: Mem = Mem.UNACCEPTED
    unplug_allowed: frozenset[Mem] = frozenset({Mem.SHARED, Mem.UNACCEPTED})


DEFAULT_HOST = HostProfile()


@dataclass
class Violation:
    """An invariant broken by an event.  ``event`` is the event that broke it."""

    name: str  # kebab-case violation id, used as Finding.rule
    message: str
    pfn: int
    event: Any = None  # bridge.Event, set by the session
    trace: list[Any] = field(default_factory=list)
    trace_dropped: int = 0  # events before the kept trace (the session keeps the last ones)


class ViolationError(Exception):
    def __init__(self, violation: Violation):
        super().__init__(violation.message)
        self.violation = violation


@dataclass
class Region:
    base_pfn: int
    npages: int


class PageModel:
    """Page state of the tracked regions under one platform and host profile."""

    def __init__(self, platform: Platform, host: HostProfile = DEFAULT_HOST):
        self.platform = platform
        self.host = host
        self.regions: list[Region] = []
        self.base = 0
        self.n = 0
        self.backed = bytearray()
        self.mem = bytearray()
        self.owner = bytearray()
        self.pte = bytearray()
        self.maps_enc = bytearray()  # other mappings (vmap, user mmap) with encryption bit
        self.maps_dec = bytearray()  # ... and with pgprot_decrypted()
        self.dma_shared = bytearray()  # device mappings that carry the CC-shared attribute
        self.dma_private = bytearray()
        self.accepted_ever = bytearray()
        self.last_conversion = bytearray()  # LastConversion per page
        # the operation (see begin_operation) in which that conversion happened
        self.conversion_operation = array("q")
        self.operation = 0
        # conversions of each page so far: a DMA mapping remembers them (stale_dma)
        self.conversion_epoch = array("q")
        self.quarantine = bytearray()  # 1: a violation was reported on this page
        # pages a partial conversion failure left in their old state (see convert)
        self.partial_untouched = bytearray()
        # pages whose MEM_CANCEL_ONLINE undo failed (note_failed_undo); cleared when the
        # driver converts them again
        self.cancel_failed = bytearray()
        self.collect = False  # record violations in ``pending`` instead of raising
        self.raise_now = False  # ... except inside ``with raising()`` (quarantine still holds)
        self.pending: list[Violation] = []

    # -- layout ----------------------------------------------------------------------
    def add_region(
        self, base_pfn: int, npages: int, *, backed: bool, mem: Mem, owner: Owner = Owner.ABSENT
    ) -> None:
        """Track pages [base_pfn, base_pfn+npages).  Regions must be added in order."""
        if self.n and base_pfn < self.base + self.n:
            raise ValueError("regions must be added in increasing pfn order")
        if not self.n:
            self.base = base_pfn
        gap = base_pfn - (self.base + self.n)
        total = gap + npages
        for arr, val in (
            (self.backed, 0),
            (self.mem, Mem.UNACCEPTED),
            (self.owner, Owner.ABSENT),
            (self.pte, Pte.NONE),
            (self.maps_enc, 0),
            (self.maps_dec, 0),
            (self.dma_shared, 0),
            (self.dma_private, 0),
            (self.accepted_ever, 0),
            (self.last_conversion, LastConversion.NONE),
            (self.quarantine, 0),
            (self.partial_untouched, 0),
            (self.cancel_failed, 0),
        ):
            arr.extend(bytes([val]) * total)
        self.conversion_operation.extend([0] * total)
        self.conversion_epoch.extend([0] * total)
        self.n += total
        self.regions.append(Region(base_pfn, npages))
        for i in self._idx(base_pfn, npages):
            self.backed[i] = int(backed)
            self.mem[i] = mem
            self.owner[i] = owner
            if owner != Owner.ABSENT:
                self.pte[i] = Pte.ENCRYPTED if platform_private(self) else Pte.DECRYPTED

    def _idx(self, pfn: int, npages: int) -> range:
        lo = pfn - self.base
        if lo < 0 or lo + npages > self.n or npages < 0:
            raise ValueError(f"pfn range {pfn:#x}+{npages} outside the modelled memory")
        return range(lo, lo + npages)

    def tracks(self, pfn: int, npages: int = 1) -> bool:
        return self.base <= pfn and pfn + npages <= self.base + self.n

    def begin_operation(self) -> int:
        """A new top-level action of the scenario (a resize, an online or offline request).

        Used to tell a conversion that failed while the driver prepared *this* unplug
        from one that failed in an earlier, unrelated operation (see host_unplug).
        A harness that never calls it keeps every conversion in operation 0.
        """
        self.operation += 1
        return self.operation

    def _fail(self, name: str, message: str, i: int) -> None:
        violation = Violation(name, message, self.base + i)
        if not self.collect:
            raise ViolationError(violation)  # direct use: every call is checked on its own
        if self.quarantine[i]:
            return  # a knock-on effect of a violation already reported on this page
        self.quarantine[i] = 1
        if self.raise_now:
            raise ViolationError(violation)
        self.pending.append(violation)

    def quarantine_pfn(self, pfn: int) -> None:
        """Mark a page a violation was reported on (from outside: heap checks, harnesses)."""
        if self.tracks(pfn):
            self.quarantine[pfn - self.base] = 1

    def quarantined(self, pfn: int, npages: int = 1) -> bool:
        return self.tracks(pfn, npages) and any(self.quarantine[i] for i in self._idx(pfn, npages))

    def raising(self) -> _Raising:
        """``with model.raising():`` -- raise the next violation even in a collecting run.

        For callers that turn a model violation into one of their own (the heap reports
        a bad access at the driver line that made the mapping).
        """
        return _Raising(self)

    def _pages(self, pfn: int, npages: int) -> str:
        return f"pfn {pfn:#x}" + (f"+{npages}" if npages > 1 else "")

    # -- host / device side ------------------------------------------------------------
    def host_plug(self, pfn: int, npages: int) -> None:
        arrives = self.host.plugged_arrives if self.platform.coco else Mem.PRIVATE
        for i in self._idx(pfn, npages):
            self.backed[i] = 1
            self.mem[i] = arrives
            self.accepted_ever[i] = 0

    def host_unplug(self, pfn: int, npages: int) -> None:
        """The device acknowledged UNPLUG: the host takes the pages back (§8, §11)."""
        where = self._pages(pfn, npages)
        for i in self._idx(pfn, npages):
            if self.platform.coco:
                self._check_cancel_failed(i, "unplug hands the host", self.host.unplug_allowed)
            if self.owner[i] == Owner.BUDDY:
                self._fail(
                    "unplug-in-use",
                    f"{where} unplugged while the page allocator "
                    f"still owns it ({Owner(self.owner[i]).name.lower()})",
                    i,
                )
            if self.dma_shared[i] or self.dma_private[i]:
                self._fail("unplug-in-use", f"{where} unplugged while a device maps it", i)
            if not self.platform.coco:
                continue
            state = Mem(self.mem[i])
            if state in self.host.unplug_allowed:
                continue
            last = LastConversion(self.last_conversion[i])
            if (
                last == LastConversion.TO_SHARED_FAILED
                and self.conversion_operation[i] == self.operation
            ):
                # the driver tried to make the range shared for this unplug, was told
                # it failed (§3), and sent the request anyway
                self._fail(
                    "unplug-after-failed-conversion",
                    f"{where} handed back to the host after its conversion to shared "
                    "failed: its private/shared state is unknown (§3)",
                    i,
                )
            # no conversion to shared was attempted for this unplug: the page is still
            # private, or unknown from an earlier failure the driver did not retry
            why = (
                "still private (accepted)"
                if state == Mem.PRIVATE
                else ("in an unknown state after an earlier failed conversion, not retried")
            )
            self._fail(
                "unplug-private",
                f"{where} handed back to the host {why}; the host profile requires "
                "shared memory on unplug (§11)",
                i,
            )
        for i in self._idx(pfn, npages):
            self.backed[i] = 0
            self.mem[i] = Mem.UNACCEPTED

    # -- conversions (set_memory_encrypted / set_memory_decrypted) ----------------------
    def convert(
        self, pfn: int, npages: int, to_private: bool, fail: bool, api: str, partial: bool = False
    ) -> bool:
        """One set_memory_*crypted() call; returns True when the call fails.

        ``fail``: the host makes it fail (§3).  With ``partial`` the call converted the
        first half of its range before failing (what upstream's leak-on-failure policy
        guards against): those pages really are in the new state, the rest are still in
        the old one, and the caller cannot tell which is which.  Converting such an
        untouched page to private again is a second accept: TDX answers
        TDX_PAGE_ALREADY_ACCEPTED and Linux fails the call (-EIO, §4).  The model makes
        the call fail on SNP too (PVALIDATE NOUPDATE; whether Linux terminates the
        guest there is not verified, §5), so upstream's "re-encrypt, free only if that
        worked" stays clean and a caller that frees anyway is caught.
        """
        if not self.platform.coco:
            return False  # §2: a no-op returning 0 without memory encryption
        where = self._pages(pfn, npages)
        refused = False
        for i in self._idx(pfn, npages):
            if self.owner[i] == Owner.BUDDY:
                self._fail(
                    "convert-free-page",
                    f"{api}() on {where} while the buddy "
                    "allocator owns it: someone else may be using it (§6)",
                    i,
                )
            if not self.backed[i]:
                self._fail(
                    "accept-unplugged" if to_private else "convert-unplugged",
                    f"{api}() on {where}, which the device has not plugged: "
                    f"{self.platform.accept_name} of unbacked memory is invalid",
                    i,
                )
            if to_private and self.mem[i] == Mem.PRIVATE and self.partial_untouched[i]:
                refused = True  # already accepted/validated: the call fails (§4)
            elif to_private and self.mem[i] == Mem.PRIVATE:
                self._fail(
                    "double-accept",
                    f"{api}() on {where}, which is already "
                    f"private: a second {self.platform.accept_name} is fatal",
                    i,
                )
        fail = fail or refused
        last = (
            (LastConversion.TO_PRIVATE_FAILED if fail else LastConversion.TO_PRIVATE)
            if to_private
            else (LastConversion.TO_SHARED_FAILED if fail else LastConversion.TO_SHARED)
        )
        converted = max(1, npages // 2) if partial and npages > 1 else 0
        target = Mem.PRIVATE if to_private else Mem.SHARED
        for k, i in enumerate(self._idx(pfn, npages)):
            self.conversion_epoch[i] += 1
            self.cancel_failed[i] = 0  # the driver converts it again: it knows
            self.last_conversion[i] = last
            self.conversion_operation[i] = self.operation
            if fail and partial and npages > 1:
                # the first half made it, the rest did not even start
                if k < converted:
                    self.mem[i] = target
                    self.partial_untouched[i] = 0
                else:
                    self.partial_untouched[i] = 1
            elif fail:
                self.mem[i] = Mem.UNKNOWN  # §3: state unknown after a failed conversion
                self.partial_untouched[i] = 0
            else:
                self.mem[i] = target
                self.partial_untouched[i] = 0
            if to_private and self.mem[i] == Mem.PRIVATE:
                self.accepted_ever[i] = 1
            if self.owner[i] != Owner.ABSENT and not (fail and partial and k >= converted):
                self.pte[i] = Pte.ENCRYPTED if to_private else Pte.DECRYPTED
        return fail

    def conversion_failed(self, i: int) -> bool:
        return self.last_conversion[i] in (
            LastConversion.TO_PRIVATE_FAILED,
            LastConversion.TO_SHARED_FAILED,
        )

    # -- undo checks ----------------------------------------------------------------
    def snapshot(self, pfn: int, npages: int) -> bytes:
        """The Mem state of a range, to compare against after an undo (check_undone)."""
        idx = self._idx(pfn, npages)
        return bytes(self.mem[idx.start : idx.stop])

    def check_undone(self, pfn: int, npages: int, before: bytes, what: str) -> None:
        """A cancelled step must leave no page private that was not private before.

        Used at the end of MEM_CANCEL_ONLINE: the pages go back offline, and whatever
        MEM_GOING_ONLINE accepted must be converted back, or the next GOING_ONLINE
        accepts them a second time (§4: fatal on TDX; §5: PVALIDATE fails on SNP).
        Unaccepted and shared count as the same "not private" state; a page left
        unknown by a failed undo is the conversion's failure, not a missing undo.
        """
        if not self.platform.coco:
            return
        for k, i in enumerate(self._idx(pfn, npages)):
            # a page a failed (partial) undo left private is that undo's failure
            undo_failed = self.last_conversion[i] == LastConversion.TO_SHARED_FAILED
            if before[k] != Mem.PRIVATE and self.mem[i] == Mem.PRIVATE and not undo_failed:
                self._fail(
                    "cancel-without-undo",
                    f"{what} leaves {self._pages(self.base + i, 1)} private: it was "
                    "converted when the block was going online and never converted back",
                    i,
                )

    def note_failed_undo(self, pfn: int, npages: int, operation: int) -> None:
        """At the end of MEM_CANCEL_ONLINE: pages whose undo failed in that notifier.

        The notifier cannot report the failure (MEM_CANCEL_ONLINE ignores the return
        value), so the driver has to remember it.  If it does not, it later unplugs or
        frees the pages as if the undo had worked: cancel-undo-failure-ignored.
        """
        for i in self._idx(pfn, npages):
            if (
                self.last_conversion[i] == LastConversion.TO_SHARED_FAILED
                and self.conversion_operation[i] == operation
            ):
                self.cancel_failed[i] = 1

    def _check_cancel_failed(self, i: int, what: str, fine: Collection[Mem]) -> None:
        """A page whose MEM_CANCEL_ONLINE undo failed, handed on in a state not ``fine``.

        A whole failure leaves the page unknown; a partial one (see convert) leaves it
        shared or still private, and the driver cannot tell which: unplugging a page the
        failed undo left private is the same ignored failure, not a missing conversion.
        """
        if self.cancel_failed[i] and self.mem[i] not in fine:
            state = "unknown (§3)" if self.mem[i] == Mem.UNKNOWN else Mem(self.mem[i]).name.lower()
            self._fail(
                "cancel-undo-failure-ignored",
                f"{what} {self._pages(self.base + i, 1)}, whose MEM_CANCEL_ONLINE undo failed: "
                "the notifier cannot report it and the driver went on as if the undo had "
                f"worked; its state is {state}",
                i,
            )

    # -- allocator -----------------------------------------------------------------
    def to_buddy(self, pfn: int, npages: int, api: str) -> None:
        """Pages handed to the page allocator (generic_online_page, free_contig_range...)."""
        where = self._pages(pfn, npages)
        for i in self._idx(pfn, npages):
            if self.owner[i] == Owner.BUDDY:
                self._fail("double-free", f"{api}() on {where}, already free in the buddy", i)
            if self.owner[i] == Owner.LEAKED:
                self._fail("free-leaked", f"{api}() on {where}, which was deliberately leaked", i)
            if not self.backed[i]:
                self._fail(
                    "unplugged-to-buddy",
                    f"{api}() hands {where} to the buddy "
                    "allocator but the device has not plugged it",
                    i,
                )
            if not self.platform.coco:
                continue
            self._check_cancel_failed(i, f"{api}() hands the buddy allocator", (Mem.PRIVATE,))
            state = Mem(self.mem[i])
            if state == Mem.UNKNOWN or (state == Mem.SHARED and self.conversion_failed(i)):
                # after a failed conversion the page must be leaked (§3), even when a
                # partial failure really left it shared
                self._fail(
                    "free-after-failed-conversion",
                    f"{api}() hands {where} to the "
                    "buddy allocator after its conversion failed; it must be leaked",
                    i,
                )
            if state == Mem.UNACCEPTED:
                self._fail(
                    "unaccepted-to-buddy",
                    f"{api}() hands {where} to the buddy "
                    f"allocator before it was accepted ({self.platform.accept_name})",
                    i,
                )
            if state == Mem.SHARED:
                self._fail(
                    "shared-to-buddy",
                    f"{api}() hands shared (decrypted) {where} to the buddy allocator",
                    i,
                )
        for i in self._idx(pfn, npages):
            self.owner[i] = Owner.BUDDY

    def from_buddy(self, pfn: int, npages: int) -> bool:
        """alloc_contig_range(): succeeds only when every page is free in the buddy."""
        idx = self._idx(pfn, npages)
        if any(self.owner[i] != Owner.BUDDY for i in idx):
            return False
        for i in idx:
            self.owner[i] = Owner.ALLOCATED
        return True

    def set_owner(self, pfn: int, npages: int, owner: Owner) -> None:
        for i in self._idx(pfn, npages):
            self.owner[i] = owner
            if owner == Owner.ABSENT:
                self.pte[i] = Pte.NONE
            elif self.pte[i] == Pte.NONE:
                # a fresh direct map is private on CoCo (§1)
                self.pte[i] = Pte.ENCRYPTED if platform_private(self) else Pte.DECRYPTED

    def owners(self, pfn: int, npages: int) -> set[Owner]:
        return {Owner(self.owner[i]) for i in self._idx(pfn, npages)}

    # -- mappings and access (used by the heap harness) -----------------------------------
    def map_pages(self, pfn: int, npages: int, encrypted: bool, delta: int = 1) -> None:
        arr = self.maps_enc if encrypted else self.maps_dec
        for i in self._idx(pfn, npages):
            arr[i] = max(0, arr[i] + delta)

    def dma_map(self, pfn: int, npages: int, shared_attr: bool, delta: int = 1) -> None:
        arr = self.dma_shared if shared_attr else self.dma_private
        for i in self._idx(pfn, npages):
            arr[i] = max(0, arr[i] + delta)

    def epochs(self, pfn: int, npages: int) -> list[int]:
        """Conversions of each page so far (what a new DMA mapping was made against)."""
        idx = self._idx(pfn, npages)
        return list(self.conversion_epoch[idx.start : idx.stop])

    def stale_dma(self, pfn: int, npages: int, made_at: list[int], via: str) -> None:
        """Device DMA through a mapping made before a conversion of its pages.

        Seed 004 (the guest side of it): after private->shared (or back) the host may
        back the page with a different physical page, and an IOMMU mapping set up
        before the conversion keeps pointing at the old one (MODEL-FACTS §8: re-map DMA
        after a conversion); the DMA address encoding (shared bit) changed too (§9).
        """
        for k, i in enumerate(self._idx(pfn, npages)):
            if self.conversion_epoch[i] != made_at[k]:
                self._fail(
                    "dma-through-stale-mapping",
                    f"{via} of {self._pages(self.base + i, 1)} through a DMA mapping made "
                    "before the page was converted: the device may reach the old host page "
                    "or use the wrong shared/private address (§8, §9)",
                    i,
                )

    def access(self, pfn: int, npages: int, encrypted_mapping: bool, via: str) -> None:
        """A CPU access through a mapping with (or without) the encryption bit (§1, §2)."""
        if not self.platform.coco:
            return
        where = self._pages(pfn, npages)
        for i in self._idx(pfn, npages):
            state = Mem(self.mem[i])
            if encrypted_mapping and state in (Mem.SHARED, Mem.UNKNOWN):
                self._fail(
                    "shared-read-through-encrypted-mapping",
                    f"{via} reads shared {where} through a private (encrypted) "
                    "mapping: the data is garbage, on TDX a fatal exit (§1)",
                    i,
                )
            if not encrypted_mapping and state == Mem.PRIVATE:
                self._fail(
                    "private-read-through-decrypted-mapping",
                    f"{via} reads private {where} through a shared mapping (§1)",
                    i,
                )
            if state == Mem.UNACCEPTED:
                self._fail("unaccepted-access", f"{via} touches unaccepted {where}", i)


class _Raising:
    def __init__(self, model: PageModel):
        self.model = model
        self.saved = model.raise_now

    def __enter__(self) -> None:
        self.model.raise_now = True

    def __exit__(self, *exc: object) -> None:
        self.model.raise_now = self.saved


def platform_private(model: PageModel) -> bool:
    return model.platform.coco
