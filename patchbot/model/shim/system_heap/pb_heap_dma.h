/* SPDX-License-Identifier: GPL-2.0 */
/*
 * patchbot heap shim, second half: scatterlists, DMA mapping, iosys_map, dma-buf and
 * dma-heap.  Included by pb_heap_kernel.h; see there for the conventions.
 */
#ifndef PB_HEAP_DMA_H
#define PB_HEAP_DMA_H

#include "pb_heap_kernel.h"

/* ---- scatterlists ----------------------------------------------------------------
 * A table is one flat array; chaining never matters to the heap's memory paths.
 */
struct scatterlist {
	struct page *pbh_page;
	unsigned int offset;
	unsigned int length;
	dma_addr_t dma_address;
	unsigned int dma_length;
	bool pbh_last;
};
struct sg_table {
	struct scatterlist *sgl;
	unsigned int nents;
	unsigned int orig_nents;
};
int pbh_sg_alloc_table(struct sg_table *table, unsigned int nents, gfp_t gfp,
		      const char *func, int line);
void pbh_sg_free_table(struct sg_table *table, const char *func, int line);
#define sg_alloc_table(table, nents, gfp) \
	pbh_sg_alloc_table((table), (nents), (gfp), __func__, __LINE__)
#define sg_free_table(table) pbh_sg_free_table((table), __func__, __LINE__)
static inline struct page *sg_page(struct scatterlist *sg) { return sg->pbh_page; }
static inline void sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			       unsigned int offset)
{
	sg->pbh_page = page;
	sg->offset = offset;
	sg->length = len;
}
static inline struct scatterlist *sg_next(struct scatterlist *sg)
{
	return sg->pbh_last ? NULL : sg + 1;
}
#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg) ((sg)->dma_length)
#define for_each_sg(sglist, sg, nr, i) \
	for ((i) = 0, (sg) = (sglist); (i) < (int)(nr); (i)++, (sg) = sg_next(sg))
#define for_each_sgtable_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->orig_nents, i)
#define for_each_sgtable_dma_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->nents, i)

/* Page iterator: walks every PAGE_SIZE piece of every entry, starting at pgoffset. */
struct sg_page_iter {
	struct scatterlist *sg;
	unsigned int sg_pgoffset;
	unsigned int pbh_left;	/* entries not yet visited, this one included */
	unsigned long pbh_skip;	/* pages still to skip before the first visit */
	bool pbh_started;
};
bool pbh_sg_page_iter_next(struct sg_page_iter *piter);
static inline struct page *sg_page_iter_page(struct sg_page_iter *piter)
{
	return nth_page(sg_page(piter->sg), piter->sg_pgoffset);
}
#define for_each_sgtable_page(sgt, piter, pgoffset)                                   \
	for (*(piter) = (struct sg_page_iter){ .sg = (sgt)->sgl,                       \
					      .pbh_left = (sgt)->orig_nents,           \
					      .pbh_skip = (pgoffset) };                 \
	     pbh_sg_page_iter_next(piter);)

/* ---- devices and DMA (MODEL-FACTS §9) ------------------------------------------------ */
struct device {
	const char *init_name;
	int pbh_id;
};
static inline const char *dev_name(const struct device *dev) { return dev->init_name; }
enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};
#define DMA_ATTR_WEAK_ORDERING (1UL << 1)
#define DMA_ATTR_WRITE_COMBINE (1UL << 2)
#define DMA_ATTR_NO_KERNEL_MAPPING (1UL << 4)
#define DMA_ATTR_SKIP_CPU_SYNC (1UL << 5)
#define DMA_ATTR_FORCE_CONTIGUOUS (1UL << 6)
#define DMA_ATTR_ALLOC_SINGLE_PAGES (1UL << 7)
#define DMA_ATTR_NO_WARN (1UL << 8)
#define DMA_ATTR_PRIVILEGED (1UL << 9)
/* Not in 6.1: the CoCo attribute for buffers that are already shared (§9).  The
 * earlier name is kept as its own bit so the model can tell which one was used. */
#define DMA_ATTR_CC_SHARED (1UL << 12)
#define DMA_ATTR_CC_DECRYPTED (1UL << 13)
int pbh_dma_map_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
		       unsigned long attrs, const char *func, int line);
void pbh_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
			  enum dma_data_direction dir, unsigned long attrs, const char *func,
			  int line);
void pbh_dma_sync_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir,
			 bool for_cpu, const char *func, int line);
#define dma_map_sgtable(dev, sgt, dir, attrs) \
	pbh_dma_map_sgtable((dev), (sgt), (dir), (attrs), __func__, __LINE__)
#define dma_unmap_sgtable(dev, sgt, dir, attrs) \
	pbh_dma_unmap_sgtable((dev), (sgt), (dir), (attrs), __func__, __LINE__)
#define dma_sync_sgtable_for_cpu(dev, sgt, dir) \
	pbh_dma_sync_sgtable((dev), (sgt), (dir), true, __func__, __LINE__)
#define dma_sync_sgtable_for_device(dev, sgt, dir) \
	pbh_dma_sync_sgtable((dev), (sgt), (dir), false, __func__, __LINE__)

/* ---- iosys_map ---------------------------------------------------------------------- */
struct iosys_map {
	union {
		void *vaddr_iomem;
		void *vaddr;
	};
	bool is_iomem;
};
static inline void iosys_map_set_vaddr(struct iosys_map *map, void *vaddr)
{
	map->vaddr = vaddr;
	map->is_iomem = false;
}
static inline void iosys_map_clear(struct iosys_map *map)
{
	map->vaddr = NULL;
	map->is_iomem = false;
}
static inline bool iosys_map_is_null(const struct iosys_map *map) { return !map->vaddr; }

/* ---- dma-buf ------------------------------------------------------------------------ */
struct dma_buf;
struct dma_buf_attachment;
struct dma_buf_ops {
	bool cache_sgt_mapping;
	int (*attach)(struct dma_buf *, struct dma_buf_attachment *);
	void (*detach)(struct dma_buf *, struct dma_buf_attachment *);
	int (*pin)(struct dma_buf_attachment *attach);
	void (*unpin)(struct dma_buf_attachment *attach);
	struct sg_table *(*map_dma_buf)(struct dma_buf_attachment *, enum dma_data_direction);
	void (*unmap_dma_buf)(struct dma_buf_attachment *, struct sg_table *,
			      enum dma_data_direction);
	void (*release)(struct dma_buf *);
	int (*begin_cpu_access)(struct dma_buf *, enum dma_data_direction);
	int (*end_cpu_access)(struct dma_buf *, enum dma_data_direction);
	int (*mmap)(struct dma_buf *, struct vm_area_struct *vma);
	int (*vmap)(struct dma_buf *dmabuf, struct iosys_map *map);
	void (*vunmap)(struct dma_buf *dmabuf, struct iosys_map *map);
};
struct dma_buf {
	size_t size;
	const struct dma_buf_ops *ops;
	const char *exp_name;
	void *priv;
	int pbh_id;
};
struct dma_buf_attachment {
	struct dma_buf *dmabuf;
	struct device *dev;
	void *priv;
};
struct module;
#define THIS_MODULE ((struct module *)0)
struct dma_buf_export_info {
	const char *exp_name;
	struct module *owner;
	const struct dma_buf_ops *ops;
	size_t size;
	int flags;
	void *resv;
	void *priv;
};
#define DEFINE_DMA_BUF_EXPORT_INFO(name) \
	struct dma_buf_export_info name = { .exp_name = "system_heap", .owner = THIS_MODULE }
struct dma_buf *pbh_dma_buf_export(const struct dma_buf_export_info *exp_info,
				  const char *func, int line);
#define dma_buf_export(info) pbh_dma_buf_export((info), __func__, __LINE__)

/* ---- dma-heap ------------------------------------------------------------------------ */
struct dma_heap;
struct dma_heap_ops {
	struct dma_buf *(*allocate)(struct dma_heap *heap, unsigned long len,
				    unsigned long fd_flags, unsigned long heap_flags);
};
struct dma_heap_export_info {
	const char *name;
	const struct dma_heap_ops *ops;
	void *priv;
};
struct dma_heap *pbh_dma_heap_add(const struct dma_heap_export_info *exp_info,
				 const char *func, int line);
#define dma_heap_add(info) pbh_dma_heap_add((info), __func__, __LINE__)
const char *dma_heap_get_name(struct dma_heap *heap);
void *dma_heap_get_drvdata(struct dma_heap *heap);

#endif /* PB_HEAP_DMA_H */
