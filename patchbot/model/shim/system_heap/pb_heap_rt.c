// SPDX-License-Identifier: GPL-2.0
/*
 * Runtime behind the heap shim: a page allocator over a fixed RAM array, slab and
 * vmap stand-ins, scatterlists, and the calls the model watches.  Each call reports an
 * event (pb_heap_rt.h); the page state itself lives in the Python model.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "include/pb_heap_kernel.h"
#include "pb_heap_rt.h"

pb_event_cb_t pb_event_cb;
long pb_fault_at;
long pb_fault_seq;
int pb_platform;
struct task_struct pb_current_task = { .pid = 1 };
struct page pb_mem_map[PB_NR_PAGES];
unsigned char *pb_ram;

static bool pb_page_used[PB_NR_PAGES];

static void ev(int kind, const char *func, int line, unsigned long a, unsigned long b,
	       unsigned long c, unsigned long d, unsigned long e, long result, int injected)
{
	if (pb_event_cb)
		pb_event_cb(kind, func, line, a, b, c, d, e, result, injected);
}

/* Count one fault point; true when this run injects its failure here. */
static int fault_here(void)
{
	return ++pb_fault_seq == pb_fault_at;
}

void pb_unreachable(const char *symbol)
{
	fprintf(stderr, "patchbot-shim: unimplemented kernel symbol reached: %s\n", symbol);
	fflush(stderr);
	abort();
}

void pb_bug(const char *func, int line, const char *what)
{
	fprintf(stderr, "patchbot-shim: BUG at %s:%d: %s\n", func, line, what);
	fflush(stderr);
	abort();
}

void pb_warn(const char *func, int line, const char *what)
{
	ev(PB_EV_WARN, func, line, 0, 0, 0, (unsigned long)what, 0, 0, 0);
}

void pb_printk(const char *func, int line, const char *fmt, ...)
{
	(void)func;
	(void)line;
	(void)fmt;
}

void pb_mutex_lock(struct mutex *m, const char *func, int line)
{
	if (m->held)
		pb_bug(func, line, "mutex_lock on a held mutex (self-deadlock)");
	m->held = 1;
}

void pb_mutex_unlock(struct mutex *m, const char *func, int line)
{
	if (!m->held)
		pb_bug(func, line, "mutex_unlock of a mutex that is not held");
	m->held = 0;
}

/* ---- RAM and the page allocator --------------------------------------------------- */

static void ram_init(void)
{
	if (pb_ram)
		return;
	pb_ram = mmap(NULL, PB_NR_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pb_ram == MAP_FAILED)
		pb_bug(__func__, __LINE__, "cannot reserve the model's RAM");
}

static long find_free_block(unsigned int order)
{
	unsigned long n = 1UL << order, i, j;

	/* naturally aligned like the buddy allocator's blocks */
	for (i = 0; i + n <= PB_NR_PAGES; i += n) {
		for (j = 0; j < n && !pb_page_used[i + j]; j++)
			;
		if (j == n)
			return (long)i;
	}
	return -1;
}

struct page *pb_alloc_pages(gfp_t gfp, unsigned int order, const char *func, int line)
{
	long idx;
	unsigned long j;

	ram_init();
	if (order > MAX_ORDER || fault_here()) {
		ev(PB_EV_ALLOC_PAGES, func, line, 0, order, gfp, 0, 0, -ENOMEM,
		   order <= MAX_ORDER);
		return NULL;
	}
	idx = find_free_block(order);
	if (idx < 0) {
		ev(PB_EV_ALLOC_PAGES, func, line, 0, order, gfp, 0, 0, -ENOMEM, 0);
		return NULL;
	}
	for (j = 0; j < (1UL << order); j++) {
		pb_page_used[idx + j] = true;
		memset(&pb_mem_map[idx + j], 0, sizeof(struct page));
	}
	if (gfp & __GFP_ZERO)
		memset(pb_ram + idx * PAGE_SIZE, 0, PAGE_SIZE << order);
	pb_mem_map[idx].order = order;
	pb_mem_map[idx].head = (gfp & __GFP_COMP) || order == 0;
	ev(PB_EV_ALLOC_PAGES, func, line, (unsigned long)idx + PB_PFN_BASE, order, gfp, 0, 0, 0,
	   0);
	return &pb_mem_map[idx];
}

void pb_free_pages(struct page *page, unsigned int order, const char *func, int line)
{
	unsigned long idx, j;

	if (!page)
		return;
	idx = (unsigned long)(page - pb_mem_map);
	if (idx >= PB_NR_PAGES)
		pb_bug(func, line, "__free_pages() of a page outside the model's RAM");
	/* the model judges the free first (double free, state); then the block is reusable */
	ev(PB_EV_FREE_PAGES, func, line, idx + PB_PFN_BASE, order, 0, 0, 0, 0, 0);
	for (j = 0; j < (1UL << order) && idx + j < PB_NR_PAGES; j++)
		pb_page_used[idx + j] = false;
}

unsigned long pb_get_free_pages(gfp_t gfp, unsigned int order, const char *func, int line)
{
	struct page *page = pb_alloc_pages(gfp, order, func, line);

	return page ? (unsigned long)page_address(page) : 0;
}

struct page *pb_virt_to_page(const void *addr, const char *func, int line)
{
	const unsigned char *p = addr;

	if (!pb_ram || p < pb_ram || p >= pb_ram + PB_NR_PAGES * PAGE_SIZE)
		pb_bug(func, line, "virt_to_page() of an address outside the direct map");
	return &pb_mem_map[(size_t)(p - pb_ram) / PAGE_SIZE];
}

struct page *pb_pfn_to_page(unsigned long pfn, const char *func, int line)
{
	if (pfn < PB_PFN_BASE || pfn >= PB_PFN_BASE + PB_NR_PAGES)
		pb_bug(func, line, "pfn_to_page() of a pfn outside the model's RAM");
	return &pb_mem_map[pfn - PB_PFN_BASE];
}

void pb_free_pages_addr(unsigned long addr, unsigned int order, const char *func, int line)
{
	if (!addr)
		return;
	pb_free_pages(pb_virt_to_page((void *)addr, func, line), order, func, line);
}

/* ---- slab / vmalloc ------------------------------------------------------------------- */

void *pb_kmalloc(size_t size, gfp_t gfp, bool zero, const char *func, int line)
{
	void *p;

	(void)gfp;
	if (fault_here()) {
		ev(PB_EV_KMALLOC, func, line, 0, size, 0, 0, 0, -ENOMEM, 1);
		return NULL;
	}
	p = zero ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
	ev(PB_EV_KMALLOC, func, line, (unsigned long)p, size, 0, 0, 0, 0, 0);
	return p;
}

void pb_kfree(const void *p, const char *func, int line)
{
	if (!p)
		return;
	ev(PB_EV_KFREE, func, line, (unsigned long)p, 0, 0, 0, 0, 0, 0);
	free((void *)p);
}

/* ---- memory encryption ------------------------------------------------------------------ */

bool pb_cc_platform_has(enum cc_attr attr, const char *func, int line)
{
	bool has = false;

	/* §10: every CoCo guest has MEM_ENCRYPT and GUEST_MEM_ENCRYPT; SNP also its own bit */
	if (pb_platform != 0)
		has = attr == CC_ATTR_MEM_ENCRYPT || attr == CC_ATTR_GUEST_MEM_ENCRYPT ||
		      attr == CC_ATTR_GUEST_STATE_ENCRYPT ||
		      (attr == CC_ATTR_GUEST_SEV_SNP && pb_platform == 2);
	ev(PB_EV_CC_HAS, func, line, attr, 0, 0, 0, 0, has, 0);
	return has;
}

pgprot_t pb_pgprot_decrypted(pgprot_t prot, const char *func, int line)
{
	ev(PB_EV_PGPROT_DECRYPTED, func, line, pgprot_val(prot), 0, 0, 0, 0, 0, 0);
	/* without memory encryption the C-bit mask is zero and this is the identity */
	if (pb_platform == 0)
		return prot;
	return __pgprot(pgprot_val(prot) & ~_PAGE_ENC);
}

pgprot_t pb_pgprot_encrypted(pgprot_t prot, const char *func, int line)
{
	(void)func;
	(void)line;
	return __pgprot(pgprot_val(prot) | _PAGE_ENC);
}

static int set_memory(int kind, unsigned long addr, int numpages, const char *func, int line)
{
	unsigned long pfn = 0;
	int injected = 0;
	long ret = 0;

	if (addr >= (unsigned long)pb_ram && addr < (unsigned long)pb_ram + PB_NR_PAGES * PAGE_SIZE)
		pfn = (addr - (unsigned long)pb_ram) / PAGE_SIZE + PB_PFN_BASE;
	/* §2: a no-op returning 0 without CC_ATTR_MEM_ENCRYPT, so it cannot fail there */
	if (pb_platform != 0 && fault_here()) {
		injected = 1;
		ret = -EIO;
	}
	ev(kind, func, line, pfn, (unsigned long)numpages, addr, 0, 0, ret, injected);
	return (int)ret;
}

int pb_set_memory_encrypted(unsigned long addr, int numpages, const char *func, int line)
{
	return set_memory(PB_EV_SET_ENCRYPTED, addr, numpages, func, line);
}

int pb_set_memory_decrypted(unsigned long addr, int numpages, const char *func, int line)
{
	return set_memory(PB_EV_SET_DECRYPTED, addr, numpages, func, line);
}

/* ---- user mappings -------------------------------------------------------------------------- */

int pb_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
		       unsigned long size, pgprot_t prot, const char *func, int line)
{
	unsigned long npages = PAGE_ALIGN(size) >> PAGE_SHIFT;
	bool enc = pgprot_val(prot) & _PAGE_ENC;

	if (addr < vma->vm_start || addr + size > vma->vm_end)
		pb_bug(func, line, "remap_pfn_range() outside the vma");
	/* page-table allocation can fail */
	if (fault_here()) {
		ev(PB_EV_USER_MAP, func, line, vma->pb_id, pfn, npages, enc, 0, -ENOMEM, 1);
		return -ENOMEM;
	}
	ev(PB_EV_USER_MAP, func, line, vma->pb_id, pfn, npages, enc, 0, 0, 0);
	return 0;
}

int pb_vm_insert_page(struct vm_area_struct *vma, unsigned long addr, struct page *page,
		      const char *func, int line)
{
	return pb_remap_pfn_range(vma, addr, page_to_pfn(page), PAGE_SIZE, vma->vm_page_prot,
				  func, line);
}

int pb_vm_map_pages(struct vm_area_struct *vma, struct page **pages, unsigned long num,
		    const char *func, int line)
{
	unsigned long i, count = vma_pages(vma);
	int ret;

	if (vma->vm_pgoff >= num || count > num - vma->vm_pgoff)
		return -ENXIO;
	for (i = 0; i < count; i++) {
		ret = pb_vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
					pages[vma->vm_pgoff + i], func, line);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- vmap --------------------------------------------------------------------------------- */

void *pb_vmap(struct page **pages, unsigned int count, unsigned long flags, pgprot_t prot,
	      const char *func, int line)
{
	unsigned long *pfns;
	unsigned int i;
	void *va;

	(void)flags;
	if (fault_here()) {
		ev(PB_EV_VMAP, func, line, 0, count, 0, 0, 0, -ENOMEM, 1);
		return NULL;
	}
	/* a fresh region stands for the new vmalloc-space alias; the model knows its pages */
	va = mmap(NULL, (size_t)count * PAGE_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (va == MAP_FAILED)
		pb_bug(func, line, "cannot reserve a vmap region");
	pfns = malloc(sizeof(*pfns) * (count ? count : 1));
	for (i = 0; i < count; i++)
		pfns[i] = page_to_pfn(pages[i]);
	ev(PB_EV_VMAP, func, line, (unsigned long)va, count, !!(pgprot_val(prot) & _PAGE_ENC),
	   (unsigned long)pfns, 0, 0, 0);
	free(pfns);
	return va;
}

void pb_vunmap(const void *addr, const char *func, int line)
{
	if (!addr)
		return;
	/* the model knows the region's size; the reservation itself is left to process exit */
	ev(PB_EV_VUNMAP, func, line, (unsigned long)addr, 0, 0, 0, 0, 0, 0);
}

/* ---- scatterlists -------------------------------------------------------------------------- */

int pb_sg_alloc_table(struct sg_table *table, unsigned int nents, gfp_t gfp, const char *func,
		      int line)
{
	(void)gfp;
	memset(table, 0, sizeof(*table));
	if (!nents)
		return -EINVAL;
	if (fault_here()) {
		ev(PB_EV_SG_ALLOC, func, line, (unsigned long)table, nents, 0, 0, 0, -ENOMEM, 1);
		return -ENOMEM;
	}
	table->sgl = calloc(nents, sizeof(struct scatterlist));
	table->sgl[nents - 1].pb_last = true;
	table->nents = table->orig_nents = nents;
	ev(PB_EV_SG_ALLOC, func, line, (unsigned long)table, nents, 0, 0, 0, 0, 0);
	return 0;
}

void pb_sg_free_table(struct sg_table *table, const char *func, int line)
{
	if (!table || !table->sgl)
		return;
	ev(PB_EV_SG_FREE, func, line, (unsigned long)table, 0, 0, 0, 0, 0, 0);
	free(table->sgl);
	table->sgl = NULL;
	table->nents = table->orig_nents = 0;
}

bool pb_sg_page_iter_next(struct sg_page_iter *piter)
{
	unsigned int npages;

	if (!piter->pb_left || !piter->sg)
		return false;
	if (piter->pb_started) {
		piter->sg_pgoffset++;
	} else {
		piter->pb_started = true;
		piter->sg_pgoffset = 0;
	}
	for (;;) {
		npages = PAGE_ALIGN(piter->sg->offset + piter->sg->length) >> PAGE_SHIFT;
		if (piter->pb_skip) {
			unsigned long here = npages - piter->sg_pgoffset;
			unsigned long skip = min(piter->pb_skip, here);

			piter->sg_pgoffset += skip;
			piter->pb_skip -= skip;
		}
		if (piter->sg_pgoffset < npages)
			return true;
		if (!--piter->pb_left)
			return false;
		piter->sg = sg_next(piter->sg);
		if (!piter->sg)
			return false;
		piter->sg_pgoffset = 0;
	}
}

static unsigned long *table_pfns(struct sg_table *sgt, unsigned long *count)
{
	struct scatterlist *sg;
	unsigned long n = 0, *pfns, j, k = 0;
	int i;

	for_each_sgtable_sg(sgt, sg, i)
		n += PAGE_ALIGN(sg->offset + sg->length) >> PAGE_SHIFT;
	pfns = malloc(sizeof(*pfns) * (n ? n : 1));
	for_each_sgtable_sg(sgt, sg, i) {
		unsigned long np = PAGE_ALIGN(sg->offset + sg->length) >> PAGE_SHIFT;

		for (j = 0; j < np; j++)
			pfns[k++] = page_to_pfn(sg_page(sg)) + j;
	}
	*count = n;
	return pfns;
}

/* ---- DMA ------------------------------------------------------------------------------------ */

int pb_dma_map_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
		       unsigned long attrs, const char *func, int line)
{
	unsigned long n, *pfns;
	struct scatterlist *sg;
	int i;

	(void)dir;
	/* IOMMU/swiotlb space can run out */
	if (fault_here()) {
		ev(PB_EV_DMA_MAP, func, line, (unsigned long)sgt, dev->pb_id, attrs, 0, 0, -ENOMEM,
		   1);
		return -ENOMEM;
	}
	pfns = table_pfns(sgt, &n);
	for_each_sgtable_sg(sgt, sg, i) {
		sg->dma_address = page_to_phys(sg_page(sg)) + sg->offset;
		sg->dma_length = sg->length;
	}
	sgt->nents = sgt->orig_nents;
	ev(PB_EV_DMA_MAP, func, line, (unsigned long)sgt, dev->pb_id, attrs, (unsigned long)pfns, n,
	   0, 0);
	free(pfns);
	return 0;
}

void pb_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
			  unsigned long attrs, const char *func, int line)
{
	(void)dir;
	ev(PB_EV_DMA_UNMAP, func, line, (unsigned long)sgt, dev->pb_id, attrs, 0, 0, 0, 0);
}

void pb_dma_sync_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
			 bool for_cpu, const char *func, int line)
{
	(void)dir;
	ev(PB_EV_DMA_SYNC, func, line, (unsigned long)sgt, dev->pb_id, for_cpu, 0, 0, 0, 0);
}

/* ---- dma-buf and dma-heap core ------------------------------------------------------------- */

struct dma_heap pb_heaps[PB_MAX_HEAPS];
int pb_nr_heaps;

struct dma_heap *pb_dma_heap_add(const struct dma_heap_export_info *exp_info, const char *func,
				 int line)
{
	struct dma_heap *heap;

	if (!exp_info->name || !exp_info->ops || !exp_info->ops->allocate)
		return ERR_PTR(-EINVAL);
	if (pb_nr_heaps == PB_MAX_HEAPS || fault_here()) {
		ev(PB_EV_HEAP_ADD, func, line, 0, 0, 0, (unsigned long)exp_info->name, 0, -ENOMEM,
		   pb_nr_heaps < PB_MAX_HEAPS);
		return ERR_PTR(-ENOMEM);
	}
	heap = &pb_heaps[pb_nr_heaps];
	heap->name = exp_info->name;
	heap->ops = exp_info->ops;
	heap->priv = exp_info->priv;
	ev(PB_EV_HEAP_ADD, func, line, (unsigned long)pb_nr_heaps, 0, 0, (unsigned long)heap->name,
	   0, 0, 0);
	pb_nr_heaps++;
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

struct dma_buf *pb_dma_buf_export(const struct dma_buf_export_info *exp_info, const char *func,
				  int line)
{
	struct dma_buf *dmabuf;

	if (!exp_info->ops || !exp_info->ops->map_dma_buf || !exp_info->ops->unmap_dma_buf ||
	    !exp_info->ops->release)
		return ERR_PTR(-EINVAL);
	/* the file and the dma_buf allocation can fail */
	if (fault_here()) {
		ev(PB_EV_BUF_EXPORT, func, line, 0, 0, 0, 0, 0, -ENOMEM, 1);
		return ERR_PTR(-ENOMEM);
	}
	dmabuf = calloc(1, sizeof(*dmabuf));
	dmabuf->size = exp_info->size;
	dmabuf->ops = exp_info->ops;
	dmabuf->exp_name = exp_info->exp_name;
	dmabuf->priv = exp_info->priv;
	ev(PB_EV_BUF_EXPORT, func, line, (unsigned long)dmabuf, 0, 0, 0, 0, 0, 0);
	return dmabuf;
}

/* the harness calls these to report its own steps */
void pb_user_event(int kind, const char *step, unsigned long a, unsigned long b, unsigned long c)
{
	ev(kind, step, 0, a, b, c, kind == PB_EV_STEP ? (unsigned long)step : 0, 0, 0, 0);
}
