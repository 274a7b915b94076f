// SPDX-License-Identifier: GPL-2.0
/*
 * The heap's user: what the dma-heap char device, the dma-buf core, a userspace
 * process and an importing device do with a buffer.  The Python scenario calls these
 * steps through ctypes; each drives the driver's own ops and reports the accesses the
 * model checks (user load/store through the mmap, kernel access through the vmap,
 * device DMA through the mapped table).  User-side events name the step as their
 * function and carry line 0, so findings never point into this file.
 */
#include <stdlib.h>

#include "pb_heap_kernel.h"

int pb_module_init(void);
struct dma_heap {
	const char *name;
	const struct dma_heap_ops *ops;
	void *priv;
};
extern struct dma_heap pbh_heaps[];
extern int pbh_nr_heaps;

#define UEV(step, api, a0, a1, a2) \
	pb_event(api, step, 0, (long)(a0), (long)(a1), (long)(a2), 0)

#define PB_MAX_OBJS 64
#define PB_USER_BASE 0x7f0000000000UL

/* each dma_buf_vmap() caller has its own iosys_map, as two kernel users would */
#define PB_MAX_VMAPS 4
struct pbh_buf {
	struct dma_buf *dmabuf;
	struct iosys_map maps[PB_MAX_VMAPS];
	int nmaps;
};
struct pbh_att {
	struct dma_buf_attachment att;
	struct sg_table *table;
};

static struct pbh_buf bufs[PB_MAX_OBJS];
static struct vm_area_struct vmas[PB_MAX_OBJS];
static struct pbh_att atts[PB_MAX_OBJS];
static struct device devs[2] = { { "pb-dev0", 0 }, { "pb-dev1", 1 } };
static int nr_bufs, nr_vmas, nr_atts;
static unsigned long next_user_addr = PB_USER_BASE;

int pbu_boot(void)
{
	UEV("module_init", "step", 0, 0, 0);
	return pb_module_init();
}

int pbu_heap_count(void)
{
	return pbh_nr_heaps;
}

const char *pbu_heap_name(int i)
{
	if (i < 0 || i >= pbh_nr_heaps)
		return NULL;
	return pbh_heaps[i].name;
}

/* DMA_HEAP_IOCTL_ALLOC: a buffer handle, or a negative errno */
long pbu_alloc(int heap, unsigned long len)
{
	struct dma_buf *dmabuf;

	if (heap < 0 || heap >= pbh_nr_heaps || nr_bufs == PB_MAX_OBJS)
		return -EINVAL;
	UEV("dma_heap_ioctl_allocate", "step", heap, len, 0);
	dmabuf = (pbh_heaps[heap].ops->allocate)(&pbh_heaps[heap], len, 02 | 02000000, 0);
	if (!dmabuf)
		return -ENOMEM;
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	bufs[nr_bufs].dmabuf = dmabuf;
	return nr_bufs++;
}

/* mmap(2) of npages of the buffer from page pgoff: a vma handle, or a negative errno */
long pbu_mmap(int buf, unsigned long pgoff, unsigned long npages)
{
	struct vm_area_struct *vma;
	int ret;

	if (buf < 0 || buf >= nr_bufs || nr_vmas == PB_MAX_OBJS)
		return -EINVAL;
	vma = &vmas[nr_vmas];
	vma->pbh_id = nr_vmas;
	vma->vm_start = next_user_addr;
	vma->vm_end = next_user_addr + npages * PAGE_SIZE;
	vma->vm_pgoff = pgoff;
	vma->vm_flags = VM_READ | VM_WRITE | VM_SHARED;
	/* vm_get_page_prot(): a new user mapping is private (encrypted) by default */
	vma->vm_page_prot = PAGE_SHARED;
	next_user_addr = vma->vm_end + PAGE_SIZE;
	UEV("mmap", "user_mmap", vma->pbh_id, npages, pgoff);
	ret = (bufs[buf].dmabuf->ops->mmap)(bufs[buf].dmabuf, vma);
	if (ret) {
		/* mmap_region() unmaps whatever the failed ->mmap inserted */
		UEV("munmap", "user_munmap", vma->pbh_id, 0, 0);
		return ret;
	}
	return nr_vmas++;
}

void pbu_user_access(int vma, int write)
{
	UEV(write ? "user store" : "user load", "user_access", vma, write, 0);
}

void pbu_munmap(int vma)
{
	UEV("munmap", "user_munmap", vma, 0, 0);
}

int pbu_vmap(int buf)
{
	struct pbh_buf *b = &bufs[buf];
	int ret;

	if (b->nmaps == PB_MAX_VMAPS)
		return -EINVAL;
	UEV("dma_buf_vmap", "step", buf, 0, 0);
	ret = (b->dmabuf->ops->vmap)(b->dmabuf, &b->maps[b->nmaps]);
	if (!ret)
		b->nmaps++;
	return ret;
}

void pbu_kernel_access(int buf, int write)
{
	struct pbh_buf *b = &bufs[buf];

	/* the newest live mapping: what the last dma_buf_vmap() caller uses */
	UEV(write ? "kernel store" : "kernel load", "vmap_access",
	    b->nmaps ? (unsigned long)b->maps[b->nmaps - 1].vaddr : 0, write, 0);
}

void pbu_vunmap(int buf)
{
	struct pbh_buf *b = &bufs[buf];

	if (!b->nmaps)
		return;
	UEV("dma_buf_vunmap", "step", buf, 0, 0);
	(b->dmabuf->ops->vunmap)(b->dmabuf, &b->maps[--b->nmaps]);
}

int pbu_cpu_access(int buf, int begin, int dir)
{
	struct dma_buf *d = bufs[buf].dmabuf;

	UEV(begin ? "dma_buf_begin_cpu_access" : "dma_buf_end_cpu_access", "step", buf, dir, 0);
	if (begin)
		return d->ops->begin_cpu_access ? (d->ops->begin_cpu_access)(d, dir) : 0;
	return d->ops->end_cpu_access ? (d->ops->end_cpu_access)(d, dir) : 0;
}

/* dma_buf_attach(): an attachment handle, or a negative errno */
long pbu_attach(int buf, int dev)
{
	struct pbh_att *a;
	int ret;

	if (nr_atts == PB_MAX_OBJS)
		return -EINVAL;
	a = &atts[nr_atts];
	a->att.dmabuf = bufs[buf].dmabuf;
	a->att.dev = &devs[dev & 1];
	UEV("dma_buf_attach", "step", buf, dev, 0);
	if (a->att.dmabuf->ops->attach) {
		ret = (a->att.dmabuf->ops->attach)(a->att.dmabuf, &a->att);
		if (ret)
			return ret;
	}
	return nr_atts++;
}

int pbu_map_attachment(int att, int dir)
{
	struct pbh_att *a = &atts[att];
	struct sg_table *t;

	UEV("dma_buf_map_attachment", "step", att, dir, 0);
	t = (a->att.dmabuf->ops->map_dma_buf)(&a->att, dir);
	if (!t)
		return -ENOMEM;
	if (IS_ERR(t))
		return (int)PTR_ERR(t);
	a->table = t;
	return 0;
}

void pbu_device_dma(int att, int write)
{
	struct pbh_att *a = &atts[att];

	UEV(write ? "device DMA write" : "device DMA read", "device_dma", a->table,
	    a->att.dev->pbh_id, write);
}

void pbu_unmap_attachment(int att, int dir)
{
	struct pbh_att *a = &atts[att];

	UEV("dma_buf_unmap_attachment", "step", att, dir, 0);
	(a->att.dmabuf->ops->unmap_dma_buf)(&a->att, a->table, dir);
	a->table = NULL;
}

void pbu_detach(int att)
{
	struct pbh_att *a = &atts[att];

	UEV("dma_buf_detach", "step", att, 0, 0);
	if (a->att.dmabuf->ops->detach)
		(a->att.dmabuf->ops->detach)(a->att.dmabuf, &a->att);
}

/* the last dma_buf_put(): the dma-buf core calls ->release, then frees the dma_buf */
void pbu_release(int buf)
{
	struct dma_buf *d = bufs[buf].dmabuf;

	UEV("dma_buf_release", "step", buf, 0, 0);
	(d->ops->release)(d);
	free(d);
	bufs[buf].dmabuf = NULL;
}

/* every buffer released: the model checks for leaks */
void pbu_end(void)
{
	UEV("scenario end", "scenario_end", 0, 0, 0);
}
