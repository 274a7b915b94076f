"""Heap-specific page-state layers and invariants on top of the shared PageModel.

The shared model (patchbot.model.state) keeps per-page arrays: host state, owner,
direct-map PTE, counts of other mappings and of DMA mappings.  A heap also needs to know
*which* mapping covers a page and where the driver made it, so a bad access is reported
at the driver line that created the mapping, and which DMA attributes a device mapping
carries (MODEL-FACTS §9).  Invariants checked here:

  dma-shared-without-cc-attr  a device DMAs a shared page through a mapping made without
                              DMA_ATTR_CC_SHARED (or DMA_ATTR_CC_DECRYPTED) (§9, §12)
  dma-private-with-cc-attr    ... a private page through a mapping that says "shared"
  dma-after-failed-conversion ... a page whose conversion failed (§3)
  convert-while-mapped        set_memory_*crypted() on pages still mapped elsewhere (§2, §6)
  free-while-mapped           __free_pages() of pages still mapped elsewhere
  page-leak / kmalloc-leak    memory still held after every buffer is released; pages in
                              the UNKNOWN state are the deliberate leak of §3 and are fine
CPU accesses go through PageModel.access() (shared-read-through-encrypted-mapping, §1/§2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from patchbot.model.state import Mem, Owner, PageModel, Violation, ViolationError

# The heap's RAM window, matching PBH_PFN_BASE / PBH_NR_PAGES in pb_heap_kernel.h.
PFN_BASE = 0x100000
NR_PAGES = 4096

DMA_ATTR_CC_SHARED = 1 << 12
DMA_ATTR_CC_DECRYPTED = 1 << 13  # the earlier name in Pirko's tree (§9)

Ranges = list[tuple[int, int]]  # (pfn, npages)


@dataclass(frozen=True)
class Site:
    """A driver call site: function and line of the event that made something."""

    func: str
    line: int

    def __str__(self) -> str:
        return f"{self.func}():{self.line}"


@dataclass
class Mapping:
    ranges: Ranges
    encrypted: bool
    site: Site


@dataclass
class DmaMapping:
    ranges: Ranges
    attrs: int
    site: Site
    epochs: list[list[int]] = field(default_factory=list)  # per range, at map time

    @property
    def cc_shared(self) -> bool:
        return bool(self.attrs & (DMA_ATTR_CC_SHARED | DMA_ATTR_CC_DECRYPTED))


class SiteViolation(ViolationError):
    """A violation to be reported at a driver site other than the current event's."""

    def __init__(self, violation: Violation, site: Site, note: str):
        super().__init__(violation)
        self.site = site
        self.note = note


@dataclass
class HeapState:
    model: PageModel
    user_maps: dict[int, list[Mapping]] = field(default_factory=dict)  # vma id -> pieces
    vmaps: dict[int, Mapping] = field(default_factory=dict)  # vaddr -> mapping
    dma: dict[tuple[int, int], DmaMapping] = field(default_factory=dict)  # (table, dev)
    allocs: dict[int, tuple[int, Site]] = field(default_factory=dict)  # head pfn -> order
    kmallocs: dict[int, Site] = field(default_factory=dict)
    heaps: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, model: PageModel) -> HeapState:
        model.add_region(PFN_BASE, NR_PAGES, backed=True, mem=_boot_state(model), owner=Owner.BUDDY)
        return cls(model)

    # -- the page allocator -------------------------------------------------------------
    def alloc(self, order: int, site: Site) -> int:
        """Pick a free naturally aligned block like the buddy allocator; 0 if none."""
        n = 1 << order
        free = bytes([Owner.BUDDY]) * n
        lo = PFN_BASE - self.model.base
        for start in range(lo, lo + NR_PAGES - n + 1, n):
            if self.model.owner[start : start + n] == free:
                pfn = self.model.base + start
                self.model.from_buddy(pfn, n)
                self.allocs[pfn] = (order, site)
                return pfn
        return 0

    def free(self, pfn: int, order: int, api: str) -> None:
        n = 1 << order
        self._require_unmapped(pfn, n, "free-while-mapped", f"{api}() frees")
        self.model.to_buddy(pfn, n, api)  # shared-to-buddy, free-after-failed-conversion...
        self.allocs.pop(pfn, None)

    def convert(
        self, pfn: int, npages: int, to_private: bool, fail: bool, api: str, partial: bool = False
    ) -> bool:
        """True when the call fails (injected, or refused by the platform)."""
        if self.model.platform.coco:
            # a CPU mapping must be gone first; a DMA mapping may outlive the conversion
            # as long as no device uses it afterwards (dma-through-stale-mapping)
            self._require_unmapped(
                pfn, npages, "convert-while-mapped", f"{api}() converts", cpu_only=True
            )
        return self.model.convert(pfn, npages, to_private, fail, api, partial)

    def _require_unmapped(
        self, pfn: int, npages: int, name: str, what: str, cpu_only: bool = False
    ) -> None:
        m = self.model
        for i in m._idx(pfn, npages):
            how = (
                "a user or kernel mapping"
                if m.maps_enc[i] or m.maps_dec[i]
                else "a device DMA mapping"
                if (m.dma_shared[i] or m.dma_private[i]) and not cpu_only
                else ""
            )
            if how:
                # collected in a model run (the conversion or free still happens, so
                # what follows is what the driver really causes), raised otherwise
                m._fail(name, f"{what} pfn {m.base + i:#x} while {how} of it still exists", i)

    # -- mappings -------------------------------------------------------------------------
    def map_user(self, vma: int, pfn: int, npages: int, encrypted: bool, site: Site) -> None:
        self._require_allocated(pfn, npages, site, "maps to userspace")
        self.user_maps.setdefault(vma, []).append(Mapping([(pfn, npages)], encrypted, site))
        self.model.map_pages(pfn, npages, encrypted)

    def unmap_user(self, vma: int) -> None:
        for piece in self.user_maps.pop(vma, []):
            for pfn, n in piece.ranges:
                self.model.map_pages(pfn, n, piece.encrypted, delta=-1)

    def vmap(self, vaddr: int, ranges: Ranges, encrypted: bool, site: Site) -> None:
        for pfn, n in ranges:
            self._require_allocated(pfn, n, site, "vmaps")
        self.vmaps[vaddr] = Mapping(ranges, encrypted, site)
        for pfn, n in ranges:
            self.model.map_pages(pfn, n, encrypted)

    def vunmap(self, vaddr: int) -> int:
        mapping = self.vmaps.pop(vaddr, None)
        if mapping is None:
            raise ViolationError(
                Violation("bad-vunmap", f"vunmap() of {vaddr:#x}, which is not a live vmap", 0)
            )
        for pfn, n in mapping.ranges:
            self.model.map_pages(pfn, n, mapping.encrypted, delta=-1)
        return sum(n for _, n in mapping.ranges)

    def dma_map(self, table: int, dev: int, ranges: Ranges, attrs: int, site: Site) -> None:
        for pfn, n in ranges:
            self._require_allocated(pfn, n, site, "maps for DMA")
        mapping = DmaMapping(ranges, attrs, site, [self.model.epochs(p, n) for p, n in ranges])
        self.dma[(table, dev)] = mapping
        for pfn, n in ranges:
            self.model.dma_map(pfn, n, mapping.cc_shared)

    def dma_unmap(self, table: int, dev: int) -> None:
        mapping = self.dma.pop((table, dev), None)
        if mapping is None:
            raise ViolationError(
                Violation(
                    "dma-unmap-unmapped", "dma_unmap_sgtable() of a table that is not mapped", 0
                )
            )
        for pfn, n in mapping.ranges:
            self.model.dma_map(pfn, n, mapping.cc_shared, delta=-1)

    def _require_allocated(self, pfn: int, npages: int, site: Site, what: str) -> None:
        if not self.model.tracks(pfn, npages):
            raise ViolationError(
                Violation(
                    "map-outside-ram", f"{site} {what} pfn {pfn:#x}, outside the modelled RAM", pfn
                )
            )
        if self.model.owners(pfn, npages) != {Owner.ALLOCATED}:
            raise ViolationError(
                Violation(
                    "map-free-page", f"{site} {what} pfn {pfn:#x}, which it does not own", pfn
                )
            )

    # -- accesses: reported at the site that made the mapping ------------------------------
    def cpu_access(self, mapping: Mapping, via: str) -> None:
        for pfn, n in mapping.ranges:
            try:
                with self.model.raising():  # reported at the mapping's site, below
                    self.model.access(
                        pfn, n, mapping.encrypted, f"{via} (mapped at {mapping.site})"
                    )
            except ViolationError as exc:
                raise SiteViolation(exc.violation, mapping.site, via) from None

    def device_dma(self, table: int, dev: int, via: str) -> None:
        mapping = self.dma.get((table, dev))
        if mapping is None:
            raise ViolationError(
                Violation("dma-unmapped", f"{via} through a table that is not DMA-mapped", 0)
            )
        if not self.model.platform.coco:
            return
        for (pfn, n), made_at in zip(mapping.ranges, mapping.epochs, strict=True):
            try:
                with self.model.raising():  # reported at the mapping's site
                    self.model.stale_dma(pfn, n, made_at, f"{via} (mapped at {mapping.site})")
            except ViolationError as exc:
                raise SiteViolation(exc.violation, mapping.site, via) from None
        for pfn, n in mapping.ranges:
            for i in self.model._idx(pfn, n):
                if self.model.quarantine[i]:
                    continue  # a knock-on effect of a violation reported already
                state = Mem(self.model.mem[i])
                v = _dma_check(state, mapping, self.model.base + i, via)
                if v is not None:
                    raise SiteViolation(v, mapping.site, via)

    # -- end of the scenario ----------------------------------------------------------------
    def check_leaks(self) -> None:
        m = self.model
        for pfn, (order, site) in sorted(self.allocs.items()):
            idx = m._idx(pfn, 1 << order)
            # a failed conversion (UNKNOWN, or mixed after a partial one) must leak (§3)
            if all(m.mem[i] == Mem.UNKNOWN or m.conversion_failed(i) for i in idx):
                m.set_owner(pfn, 1 << order, Owner.LEAKED)  # §3: the deliberate leak
                continue
            if m.quarantined(pfn, 1 << order):
                continue  # a violation was reported on these pages already
            raise SiteViolation(
                Violation(
                    "page-leak",
                    f"order-{order} pages at pfn {pfn:#x} allocated at {site} are never freed "
                    "although every buffer was released",
                    pfn,
                ),
                site,
                "scenario end",
            )
        for _ptr, site in self.kmallocs.items():
            raise SiteViolation(
                Violation(
                    "kmalloc-leak",
                    f"memory allocated at {site} is never freed although every buffer was released",
                    0,
                ),
                site,
                "scenario end",
            )


def _boot_state(model: PageModel) -> Mem:
    # memory the guest booted with is accepted/validated and private (§12: PRIVATE)
    return Mem.PRIVATE


def _dma_check(state: Mem, mapping: DmaMapping, pfn: int, via: str) -> Violation | None:
    where = f"pfn {pfn:#x}"
    if state == Mem.UNKNOWN:
        return Violation(
            "dma-after-failed-conversion",
            f"{via} of {where}, whose conversion failed: its state is unknown and it "
            f"must not be handed to a device (mapped at {mapping.site})",
            pfn,
        )
    if state == Mem.SHARED and not mapping.cc_shared:
        return Violation(
            "dma-shared-without-cc-attr",
            f"{via} of shared {where} through a mapping made at {mapping.site} without "
            "DMA_ATTR_CC_SHARED: the DMA API treats it as private and the device sees "
            "the wrong address or bounced garbage (§9)",
            pfn,
        )
    if state == Mem.PRIVATE and mapping.cc_shared:
        return Violation(
            "dma-private-with-cc-attr",
            f"{via} of private {where} through a mapping made at {mapping.site} with "
            "DMA_ATTR_CC_SHARED: the device would access it unencrypted (§9)",
            pfn,
        )
    return None
