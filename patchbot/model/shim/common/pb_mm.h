/* SPDX-License-Identifier: GPL-2.0 */
/*
 * patchbot shim: pages, the memmap window, the direct map and the buddy entry points.
 * The model machine: PAGE_SIZE 4K, MAX_ORDER 5 (16-page blocks), pageblock 16 pages.
 * struct page exists for PB_MEMMAP_PAGES pages from PB_MEMMAP_BASE_PFN (1 GiB); the
 * direct map of that window is a real (lazily backed) mmap, so __va() memory is usable.
 */
#ifndef PB_MM_H
#define PB_MM_H
#include "pb_kernel.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_PHYS(x) ((phys_addr_t)(x) << PAGE_SHIFT)
#define PHYS_PFN(x) ((unsigned long)((x) >> PAGE_SHIFT))
#define PAGE_ALIGN(x) ALIGN(x, PAGE_SIZE)
#define MAX_ORDER 5
/* 6.8 renamed the bound: MAX_PAGE_ORDER is the largest order itself (MAX_ORDER - 1) */
#define MAX_PAGE_ORDER (MAX_ORDER - 1)
#define MAX_ORDER_NR_PAGES (1UL << (MAX_ORDER - 1))
#define pageblock_order (MAX_ORDER - 1)
#define pageblock_nr_pages (1UL << pageblock_order)
#define PB_MEMMAP_BASE_PFN 0x40000UL
#define PB_MEMMAP_PAGES 4096UL
#define NUMA_NO_NODE (-1)

struct page {
	unsigned long flags;
	int _refcount;
	int _mapcount;
	unsigned long private;
};
extern struct page pb_memmap[PB_MEMMAP_PAGES];
extern char *pb_direct_map;
struct page *pb_pfn_to_page(unsigned long pfn);
#define pfn_to_page(pfn) pb_pfn_to_page(pfn)
#define page_to_pfn(p) ((unsigned long)((p) - pb_memmap) + PB_MEMMAP_BASE_PFN)
#define page_to_phys(p) PFN_PHYS(page_to_pfn(p))
#define __va(x) ((void *)(pb_direct_map + ((phys_addr_t)(x) - PFN_PHYS(PB_MEMMAP_BASE_PFN))))
#define __pa(x) ((phys_addr_t)((char *)(x) - pb_direct_map) + PFN_PHYS(PB_MEMMAP_BASE_PFN))
#define virt_to_pfn(x) PHYS_PFN(__pa(x))
#define virt_to_page(x) pfn_to_page(virt_to_pfn(x))
#define page_address(p) __va(page_to_phys(p))
#define pfn_valid(pfn) ((pfn) >= PB_MEMMAP_BASE_PFN && (pfn) < PB_MEMMAP_BASE_PFN + PB_MEMMAP_PAGES)

enum pageflags { PG_dirty, PG_reserved, PG_offline, PG_movable_zone };
#define PB_PAGEFLAG(name, bit) \
	static inline int Page##name(const struct page *p) { return !!(p->flags & (1UL << bit)); } \
	static inline void SetPage##name(struct page *p) { p->flags |= 1UL << bit; } \
	static inline void ClearPage##name(struct page *p) { p->flags &= ~(1UL << bit); } \
	static inline void __SetPage##name(struct page *p) { p->flags |= 1UL << bit; } \
	static inline void __ClearPage##name(struct page *p) { p->flags &= ~(1UL << bit); }
PB_PAGEFLAG(Dirty, PG_dirty)
PB_PAGEFLAG(Reserved, PG_reserved)
PB_PAGEFLAG(Offline, PG_offline)
static inline int page_ref_count(const struct page *p) { return p->_refcount; }
static inline void set_page_count(struct page *p, int v) { p->_refcount = v; }
static inline void page_ref_inc(struct page *p) { p->_refcount++; }
/* a fresh single reference (2026's virtio_mem gives back the reference it dropped
 * for a fake-offline page this way, where 6.12 used page_ref_inc()) */
static inline void init_page_count(struct page *p) { set_page_count(p, 1); }
static inline int page_ref_dec_and_test(struct page *p) { return --p->_refcount == 0; }
#define page_count(p) page_ref_count(p)
#define dump_page(p, r) ((void)(p))
enum zone_type { ZONE_NORMAL, ZONE_MOVABLE };
static inline enum zone_type page_zonenum(const struct page *p)
{ return (p->flags & (1UL << PG_movable_zone)) ? ZONE_MOVABLE : ZONE_NORMAL; }
#define is_zone_movable_page(p) (page_zonenum(p) == ZONE_MOVABLE)
enum migratetype { MIGRATE_UNMOVABLE, MIGRATE_MOVABLE };

/* buddy entry points: events the model checks */
int pb_alloc_contig_range(unsigned long start, unsigned long end, unsigned int mt, gfp_t gfp,
			  PB_LOC_PARAMS);
#define alloc_contig_range(s, e, mt, g) pb_alloc_contig_range(s, e, mt, g, PB_LOC)
void pb_free_contig_range(unsigned long pfn, unsigned long nr, PB_LOC_PARAMS);
#define free_contig_range(p, n) pb_free_contig_range(p, n, PB_LOC)
void pb_generic_online_page(struct page *page, unsigned int order, PB_LOC_PARAMS);
#define generic_online_page(p, o) pb_generic_online_page(p, o, PB_LOC)
/* the hotplug core's default online-page callback (what generic_online_page() does) */
void pb_default_online_page(struct page *page, unsigned int order);
#define adjust_managed_page_count(p, n) ((void)(p), (void)(n))
#define page_offline_begin() do { } while (0)
#define page_offline_end() do { } while (0)

/* set_memory_encrypted()/decrypted(): conversions of the direct map (MODEL-FACTS §2) */
int pb_set_memory_crypt(unsigned long addr, int numpages, int enc, PB_LOC_PARAMS);
#define set_memory_encrypted(a, n) pb_set_memory_crypt(a, n, 1, PB_LOC)
#define set_memory_decrypted(a, n) pb_set_memory_crypt(a, n, 0, PB_LOC)
enum cc_attr { CC_ATTR_MEM_ENCRYPT, CC_ATTR_HOST_MEM_ENCRYPT, CC_ATTR_GUEST_MEM_ENCRYPT,
	       CC_ATTR_GUEST_STATE_ENCRYPT, CC_ATTR_GUEST_UNROLL_STRING_IO,
	       CC_ATTR_GUEST_SEV_SNP };
bool pb_cc_platform_has(enum cc_attr attr, PB_LOC_PARAMS);
#define cc_platform_has(a) pb_cc_platform_has(a, PB_LOC)
#endif
