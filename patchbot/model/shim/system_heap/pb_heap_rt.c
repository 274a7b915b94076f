// SPDX-License-Identifier: GPL-2.0
/*
 * Runtime behind the heap shim: RAM and struct pages, slab/vmalloc and vmap stand-ins,
 * scatterlists, DMA, dma-buf and dma-heap registration.
 *
 * Every memory-path call becomes one pb_event() carrying the driver's function and line.
 * The Python side (patchbot/model/heap/) owns the page state: it picks the pfn an
 * alloc_pages() returns, decides whether this call is the injected failure, and returns
 * the value the call should return.  Arrays (the pfns of a vmap or of a DMA-mapped
 * table) travel as a pointer to a long array: {count, pfn0, npages0, pfn1, ...}.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "pb_heap_kernel.h"

struct task_struct pbh_current_task = { .pid = 1 };
struct page pbh_mem_map[PB_NR_PAGES];
unsigned char *pbh_ram;

#define EV(api, a0, a1, a2, a3) \
	pb_event(api, func, line, (long)(a0), (long)(a1), (long)(a2), (long)(a3))

void pbh_bug(const char *func, int line, const char *what)
{
	EV("BUG", what, 0, 0, 0);
	abort();
}

void pbh_warn(const char *func, int line, const char *what)
{
	EV("WARN", what, 0, 0, 0);
}

void pbh_printk(const char *func, int line, const char *fmt, ...)
{
	(void)func;
	(void)line;
	(void)fmt;
}

void pbh_mutex_lock(struct mutex *m, const char *func, int line)
{
	if (m->held)
		pbh_bug(func, line, "mutex_lock() of a mutex this thread holds (deadlock)");
	m->held = 1;
}

void pbh_mutex_unlock(struct mutex *m, const char *func, int line)
{
	if (!m->held)
		pbh_bug(func, line, "mutex_unlock() of a mutex that is not held");
	m->held = 0;
}

/* ---- RAM and the page allocator (the model chooses the pages) ---------------------- */

static void ram_init(void)
{
	if (pbh_ram)
		return;
	pbh_ram = mmap(NULL, PB_NR_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pbh_ram == MAP_FAILED)
		abort();
}

struct page *pbh_alloc_pages(gfp_t gfp, unsigned int order, const char *func, int line)
{
	unsigned long idx, j;
	long pfn;

	ram_init();
	pfn = EV("alloc_pages", order, gfp, 0, 0);
	if (pfn <= 0)
		return NULL;
	idx = (unsigned long)pfn - PB_PFN_BASE;
	for (j = 0; j < (1UL << order); j++)
		memset(&pbh_mem_map[idx + j], 0, sizeof(struct page));
	if (gfp & __GFP_ZERO)
		memset(pbh_ram + idx * PAGE_SIZE, 0, PAGE_SIZE << order);
	pbh_mem_map[idx].order = order;
	pbh_mem_map[idx].head = (gfp & __GFP_COMP) || order == 0;
	return &pbh_mem_map[idx];
}

void pbh_free_pages(struct page *page, unsigned int order, const char *func, int line)
{
	unsigned long idx;

	if (!page)
		return;
	idx = (unsigned long)(page - pbh_mem_map);
	if (idx >= PB_NR_PAGES)
		pbh_bug(func, line, "__free_pages() of a page outside the model's RAM");
	EV("__free_pages", idx + PB_PFN_BASE, order, 0, 0);
}

unsigned long pbh_get_free_pages(gfp_t gfp, unsigned int order, const char *func, int line)
{
	struct page *page = pbh_alloc_pages(gfp, order, func, line);

	return page ? (unsigned long)page_address(page) : 0;
}

struct page *pbh_virt_to_page(const void *addr, const char *func, int line)
{
	const unsigned char *p = addr;

	if (!pbh_ram || p < pbh_ram || p >= pbh_ram + PB_NR_PAGES * PAGE_SIZE)
		pbh_bug(func, line, "virt_to_page() of an address outside the direct map");
	return &pbh_mem_map[(size_t)(p - pbh_ram) / PAGE_SIZE];
}

struct page *pbh_pfn_to_page(unsigned long pfn, const char *func, int line)
{
	if (pfn < PB_PFN_BASE || pfn >= PB_PFN_BASE + PB_NR_PAGES)
		pbh_bug(func, line, "pfn_to_page() of a pfn outside the model's RAM");
	return &pbh_mem_map[pfn - PB_PFN_BASE];
}

void pbh_free_pages_addr(unsigned long addr, unsigned int order, const char *func, int line)
{
	if (!addr)
		return;
	pbh_free_pages(pbh_virt_to_page((void *)addr, func, line), order, func, line);
}

/* ---- slab / vmalloc: tracked for leaks and failed in turn -------------------------------- */

void *pbh_kmalloc(size_t size, gfp_t gfp, bool zero, const char *api, const char *func,
		  int line)
{
	void *p = zero ? calloc(1, size ? size : 1) : malloc(size ? size : 1);

	(void)gfp;
	if (EV(api, p, size, 0, 0)) {
		free(p);
		return NULL;
	}
	return p;
}

void pbh_kfree(const void *p, const char *func, int line)
{
	if (!p)
		return;
	EV("kfree", p, 0, 0, 0);
	free((void *)p);
}

/* ---- memory encryption (MODEL-FACTS §2) ------------------------------------------------ */

bool pbh_cc_platform_has(enum cc_attr attr, const char *func, int line)
{
	return EV("cc_platform_has", attr, 0, 0, 0) != 0;
}

pgprot_t pbh_pgprot_decrypted(pgprot_t prot, const char *func, int line)
{
	/* without memory encryption the C-bit mask is zero and this is the identity */
	if (!EV("pgprot_decrypted", pgprot_val(prot), 0, 0, 0))
		return prot;
	return __pgprot(pgprot_val(prot) & ~_PAGE_ENC);
}

pgprot_t pbh_pgprot_encrypted(pgprot_t prot, const char *func, int line)
{
	(void)func;
	(void)line;
	return __pgprot(pgprot_val(prot) | _PAGE_ENC);
}

static long direct_map_pfn(unsigned long addr)
{
	if (pbh_ram && addr >= (unsigned long)pbh_ram &&
	    addr < (unsigned long)pbh_ram + PB_NR_PAGES * PAGE_SIZE)
		return (long)((addr - (unsigned long)pbh_ram) / PAGE_SIZE + PB_PFN_BASE);
	return -1;
}

int pbh_set_memory_encrypted(unsigned long addr, int numpages, const char *func, int line)
{
	return (int)EV("set_memory_encrypted", direct_map_pfn(addr), numpages, addr, 0);
}

int pbh_set_memory_decrypted(unsigned long addr, int numpages, const char *func, int line)
{
	return (int)EV("set_memory_decrypted", direct_map_pfn(addr), numpages, addr, 0);
}

/* ---- user mappings ------------------------------------------------------------------------ */

int pbh_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
		       unsigned long size, pgprot_t prot, const char *func, int line)
{
	unsigned long npages = PAGE_ALIGN(size) >> PAGE_SHIFT;

	if (addr < vma->vm_start || addr + size > vma->vm_end)
		pbh_bug(func, line, "remap_pfn_range() outside the vma");
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	return (int)EV("remap_pfn_range", vma->pbh_id, pfn, npages,
		       !!(pgprot_val(prot) & _PAGE_ENC));
}

int pbh_vm_insert_page(struct vm_area_struct *vma, unsigned long addr, struct page *page,
		      const char *func, int line)
{
	if (addr < vma->vm_start || addr + PAGE_SIZE > vma->vm_end)
		pbh_bug(func, line, "vm_insert_page() outside the vma");
	return (int)EV("vm_insert_page", vma->pbh_id, page_to_pfn(page), 1,
		       !!(pgprot_val(vma->vm_page_prot) & _PAGE_ENC));
}

int pbh_vm_map_pages(struct vm_area_struct *vma, struct page **pages, unsigned long num,
		    const char *func, int line)
{
	unsigned long i, count = vma_pages(vma);
	int ret;

	if (vma->vm_pgoff >= num || count > num - vma->vm_pgoff)
		return -ENXIO;
	for (i = 0; i < count; i++) {
		ret = pbh_vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
					pages[vma->vm_pgoff + i], func, line);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- vmap: a fresh region stands for the new vmalloc-space alias ------------------------------ */

void *pbh_vmap(struct page **pages, unsigned int count, unsigned long flags, pgprot_t prot,
	      const char *func, int line)
{
	long *pfns = malloc(sizeof(long) * (2 * count + 1));
	unsigned int i;
	void *va;
	long ret;

	(void)flags;
	pfns[0] = count;
	for (i = 0; i < count; i++) {
		pfns[1 + 2 * i] = (long)page_to_pfn(pages[i]);
		pfns[2 + 2 * i] = 1;
	}
	va = mmap(NULL, (size_t)count * PAGE_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (va == MAP_FAILED)
		abort();
	ret = EV("vmap", va, pfns, count, !!(pgprot_val(prot) & _PAGE_ENC));
	free(pfns);
	if (ret) {
		munmap(va, (size_t)count * PAGE_SIZE);
		return NULL;
	}
	return va;
}

void pbh_vunmap(const void *addr, const char *func, int line)
{
	long npages;

	if (!addr)
		return;
	npages = EV("vunmap", addr, 0, 0, 0);
	if (npages > 0)
		munmap((void *)addr, (size_t)npages * PAGE_SIZE);
}

/* ---- scatterlists: one flat array per table --------------------------------------------------- */

int pbh_sg_alloc_table(struct sg_table *table, unsigned int nents, gfp_t gfp, const char *func,
		      int line)
{
	(void)gfp;
	memset(table, 0, sizeof(*table));
	if (!nents)
		return -EINVAL;
	if (EV("sg_alloc_table", table, nents, 0, 0))
		return -ENOMEM;
	table->sgl = calloc(nents, sizeof(struct scatterlist));
	table->sgl[nents - 1].pbh_last = true;
	table->nents = table->orig_nents = nents;
	return 0;
}

void pbh_sg_free_table(struct sg_table *table, const char *func, int line)
{
	if (!table || !table->sgl)
		return;
	EV("sg_free_table", table, 0, 0, 0);
	free(table->sgl);
	table->sgl = NULL;
	table->nents = table->orig_nents = 0;
}

bool pbh_sg_page_iter_next(struct sg_page_iter *piter)
{
	unsigned int npages;

	if (!piter->pbh_left || !piter->sg)
		return false;
	if (piter->pbh_started) {
		piter->sg_pgoffset++;
	} else {
		piter->pbh_started = true;
		piter->sg_pgoffset = 0;
	}
	for (;;) {
		npages = PAGE_ALIGN(piter->sg->offset + piter->sg->length) >> PAGE_SHIFT;
		if (piter->pbh_skip) {
			unsigned long skip = min(piter->pbh_skip,
						 (unsigned long)(npages - piter->sg_pgoffset));

			piter->sg_pgoffset += skip;
			piter->pbh_skip -= skip;
		}
		if (piter->sg_pgoffset < npages)
			return true;
		if (!--piter->pbh_left)
			return false;
		piter->sg = sg_next(piter->sg);
		if (!piter->sg)
			return false;
		piter->sg_pgoffset = 0;
	}
}

/* {count, pfn0, npages0, ...} for every entry of a table; the caller frees it */
static long *table_ranges(struct sg_table *sgt)
{
	struct scatterlist *sg;
	long *r = malloc(sizeof(long) * (2 * sgt->orig_nents + 1));
	int i;

	r[0] = sgt->orig_nents;
	for_each_sgtable_sg(sgt, sg, i) {
		r[1 + 2 * i] = (long)page_to_pfn(sg_page(sg)) + sg->offset / PAGE_SIZE;
		r[2 + 2 * i] = (long)(PAGE_ALIGN(sg->offset % PAGE_SIZE + sg->length) >> PAGE_SHIFT);
	}
	return r;
}

/* ---- DMA (MODEL-FACTS §9) ---------------------------------------------------------------------- */

int pbh_dma_map_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
		       unsigned long attrs, const char *func, int line)
{
	struct scatterlist *sg;
	long *ranges = table_ranges(sgt);
	long ret;
	int i;

	(void)dir;
	ret = EV("dma_map_sgtable", sgt, dev->pbh_id, attrs, ranges);
	free(ranges);
	if (ret)
		return (int)ret;
	for_each_sgtable_sg(sgt, sg, i) {
		sg->dma_address = page_to_phys(sg_page(sg)) + sg->offset;
		sg->dma_length = sg->length;
	}
	sgt->nents = sgt->orig_nents;
	return 0;
}

void pbh_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
			  unsigned long attrs, const char *func, int line)
{
	(void)dir;
	EV("dma_unmap_sgtable", sgt, dev->pbh_id, attrs, 0);
}

void pbh_dma_sync_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
			 bool for_cpu, const char *func, int line)
{
	(void)dir;
	EV(for_cpu ? "dma_sync_sgtable_for_cpu" : "dma_sync_sgtable_for_device", sgt, dev->pbh_id,
	   0, 0);
}

/* ---- dma-buf and dma-heap core ------------------------------------------------------------------ */

struct dma_heap {
	const char *name;
	const struct dma_heap_ops *ops;
	void *priv;
};
#define PB_MAX_HEAPS 8
struct dma_heap pbh_heaps[PB_MAX_HEAPS];
int pbh_nr_heaps;

struct dma_heap *pbh_dma_heap_add(const struct dma_heap_export_info *exp_info, const char *func,
				 int line)
{
	struct dma_heap *heap;
	long ret;

	if (!exp_info->name || !exp_info->ops || !exp_info->ops->allocate)
		return ERR_PTR(-EINVAL);
	if (pbh_nr_heaps == PB_MAX_HEAPS)
		return ERR_PTR(-ENOSPC);
	ret = EV("dma_heap_add", exp_info->name, pbh_nr_heaps, 0, 0);
	if (ret)
		return ERR_PTR(ret);
	heap = &pbh_heaps[pbh_nr_heaps++];
	heap->name = exp_info->name;
	heap->ops = exp_info->ops;
	heap->priv = exp_info->priv;
	return heap;
}

const char *dma_heap_get_name(struct dma_heap *heap)
{
	return heap->name;
}

void *dma_heap_get_drvdata(struct dma_heap *heap)
{
	return heap->priv;
}

struct dma_buf *pbh_dma_buf_export(const struct dma_buf_export_info *exp_info, const char *func,
				  int line)
{
	struct dma_buf *dmabuf;

	if (!exp_info->ops || !exp_info->ops->map_dma_buf || !exp_info->ops->unmap_dma_buf ||
	    !exp_info->ops->release)
		return ERR_PTR(-EINVAL);
	dmabuf = calloc(1, sizeof(*dmabuf));
	/* the anon file and the dma_buf allocation can fail */
	if (EV("dma_buf_export", dmabuf, exp_info->size, 0, 0)) {
		free(dmabuf);
		return ERR_PTR(-ENOMEM);
	}
	dmabuf->size = exp_info->size;
	dmabuf->ops = exp_info->ops;
	dmabuf->exp_name = exp_info->exp_name;
	dmabuf->priv = exp_info->priv;
	return dmabuf;
}
