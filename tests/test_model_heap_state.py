"""The heap's page-state layers and invariants (patchbot.model.heap.state), on the real
PageModel, without building the driver."""

from __future__ import annotations

import pytest

from patchbot.model.heap.state import (
    DMA_ATTR_CC_DECRYPTED,
    DMA_ATTR_CC_SHARED,
    NR_PAGES,
    PFN_BASE,
    HeapState,
    Site,
    SiteViolation,
)
from patchbot.model.state import PLATFORMS, Owner, PageModel, ViolationError

SITE = Site("system_heap_allocate", 327)
MAP_SITE = Site("system_heap_mmap", 207)


def heap_on(platform: str) -> HeapState:
    return HeapState.create(PageModel(PLATFORMS[platform]))


def violation_name(exc: pytest.ExceptionInfo[ViolationError]) -> str:
    return exc.value.violation.name


def test_alloc_gives_aligned_blocks_until_ram_runs_out():
    heap = heap_on("none")
    got = [heap.alloc(8, SITE) for _ in range(NR_PAGES // 256)]
    assert got == [PFN_BASE + 256 * i for i in range(NR_PAGES // 256)]
    assert heap.alloc(0, SITE) == 0  # nothing left, not even one page
    heap.free(got[3], 8, "__free_pages")
    assert heap.alloc(4, SITE) == got[3]  # the freed block is reused, split to order 4


def test_double_free_is_reported():
    heap = heap_on("none")
    pfn = heap.alloc(0, SITE)
    heap.free(pfn, 0, "__free_pages")
    with pytest.raises(ViolationError) as exc:
        heap.free(pfn, 0, "__free_pages")
    assert violation_name(exc) == "double-free"


@pytest.mark.parametrize("platform", ["tdx", "snp"])
def test_shared_pages_must_be_reencrypted_before_free(platform):
    heap = heap_on(platform)
    pfn = heap.alloc(4, SITE)
    heap.convert(pfn, 16, to_private=False, fail=False, api="set_memory_decrypted")
    with pytest.raises(ViolationError) as exc:
        heap.free(pfn, 4, "__free_pages")
    assert violation_name(exc) == "shared-to-buddy"
    heap.convert(pfn, 16, to_private=True, fail=False, api="set_memory_encrypted")
    heap.free(pfn, 4, "__free_pages")
    assert heap.model.owners(pfn, 16) == {Owner.BUDDY}


def test_failed_reencryption_is_a_deliberate_leak_not_a_page_leak():
    heap = heap_on("tdx")
    pfn = heap.alloc(0, SITE)
    heap.convert(pfn, 1, to_private=False, fail=False, api="set_memory_decrypted")
    heap.convert(pfn, 1, to_private=True, fail=True, api="set_memory_encrypted")
    with pytest.raises(ViolationError) as exc:
        heap.free(pfn, 0, "__free_pages")
    assert violation_name(exc) == "free-after-failed-conversion"
    heap.check_leaks()  # the unknown-state page stays allocated on purpose
    assert heap.model.owners(pfn, 1) == {Owner.LEAKED}


def test_a_private_page_never_freed_is_a_leak_at_its_allocation_site():
    heap = heap_on("snp")
    heap.alloc(0, SITE)
    with pytest.raises(SiteViolation) as exc:
        heap.check_leaks()
    assert exc.value.violation.name == "page-leak"
    assert exc.value.site == SITE


def test_free_and_conversion_while_mapped():
    heap = heap_on("tdx")
    pfn = heap.alloc(0, SITE)
    heap.map_user(7, pfn, 1, encrypted=True, site=MAP_SITE)
    with pytest.raises(ViolationError) as exc:
        heap.convert(pfn, 1, to_private=False, fail=False, api="set_memory_decrypted")
    assert violation_name(exc) == "convert-while-mapped"
    with pytest.raises(ViolationError) as exc:
        heap.free(pfn, 0, "__free_pages")
    assert violation_name(exc) == "free-while-mapped"
    heap.unmap_user(7)
    heap.free(pfn, 0, "__free_pages")


def test_encrypted_user_mapping_of_a_shared_page_reports_the_mapping_site():
    heap = heap_on("snp")
    pfn = heap.alloc(0, SITE)
    heap.convert(pfn, 1, to_private=False, fail=False, api="set_memory_decrypted")
    heap.map_user(1, pfn, 1, encrypted=True, site=MAP_SITE)
    with pytest.raises(SiteViolation) as exc:
        heap.cpu_access(heap.user_maps[1][0], "user load")
    assert exc.value.violation.name == "shared-read-through-encrypted-mapping"
    assert exc.value.site == MAP_SITE
    heap.map_user(2, pfn, 1, encrypted=False, site=MAP_SITE)
    heap.cpu_access(heap.user_maps[2][0], "user load")  # pgprot_decrypted(): fine


def test_mapping_a_page_the_heap_does_not_own():
    heap = heap_on("none")
    with pytest.raises(ViolationError) as exc:
        heap.map_user(1, PFN_BASE, 1, encrypted=True, site=MAP_SITE)
    assert violation_name(exc) == "map-free-page"


@pytest.mark.parametrize(
    ("shared", "attrs", "expected"),
    [
        (True, 0, "dma-shared-without-cc-attr"),
        (True, DMA_ATTR_CC_SHARED, None),
        (True, DMA_ATTR_CC_DECRYPTED, None),  # the earlier name is accepted too (§9)
        (False, 0, None),
        (False, DMA_ATTR_CC_SHARED, "dma-private-with-cc-attr"),
    ],
)
def test_device_dma_attribute_must_match_the_page_state(shared, attrs, expected):
    heap = heap_on("tdx")
    pfn = heap.alloc(0, SITE)
    if shared:
        heap.convert(pfn, 1, to_private=False, fail=False, api="set_memory_decrypted")
    heap.dma_map(0xA0, 0, [(pfn, 1)], attrs, Site("system_heap_map_dma_buf", 136))
    if expected is None:
        heap.device_dma(0xA0, 0, "device DMA read")
        return
    with pytest.raises(SiteViolation) as exc:
        heap.device_dma(0xA0, 0, "device DMA read")
    assert exc.value.violation.name == expected
    assert exc.value.site.line == 136


def test_dma_of_a_page_after_a_failed_conversion():
    heap = heap_on("snp")
    pfn = heap.alloc(0, SITE)
    heap.convert(pfn, 1, to_private=False, fail=True, api="set_memory_decrypted")
    heap.dma_map(0xB0, 1, [(pfn, 1)], DMA_ATTR_CC_SHARED, Site("f", 1))
    with pytest.raises(SiteViolation) as exc:
        heap.device_dma(0xB0, 1, "device DMA write")
    assert exc.value.violation.name == "dma-after-failed-conversion"


def test_without_memory_encryption_no_cc_checks_apply():
    heap = heap_on("none")
    pfn = heap.alloc(0, SITE)
    heap.convert(pfn, 1, to_private=False, fail=True, api="set_memory_decrypted")  # no-op (§2)
    heap.dma_map(0xC0, 0, [(pfn, 1)], DMA_ATTR_CC_SHARED, Site("f", 1))
    heap.device_dma(0xC0, 0, "device DMA read")
    heap.dma_unmap(0xC0, 0)
    heap.free(pfn, 0, "__free_pages")
    heap.check_leaks()


def test_unmapping_what_was_never_mapped():
    heap = heap_on("none")
    with pytest.raises(ViolationError) as exc:
        heap.dma_unmap(0xD0, 0)
    assert violation_name(exc) == "dma-unmap-unmapped"
    with pytest.raises(ViolationError) as exc:
        heap.vunmap(0x1000)
    assert violation_name(exc) == "bad-vunmap"


def test_kmalloc_never_freed_is_a_leak_at_its_site():
    heap = heap_on("none")
    heap.kmallocs[0x5000] = Site("system_heap_attach", 90)
    with pytest.raises(SiteViolation) as exc:
        heap.check_leaks()
    assert exc.value.violation.name == "kmalloc-leak"
    assert exc.value.site == Site("system_heap_attach", 90)
    heap.kmallocs.clear()
    heap.check_leaks()
