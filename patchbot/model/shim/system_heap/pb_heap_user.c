// SPDX-License-Identifier: GPL-2.0
/*
 * The heap's user: what the dma-heap char device, the dma-buf core, a userspace
 * process and an importing device do with a buffer.  The Python scenario calls these
 * steps through ctypes; each drives the driver's own ops and reports the accesses the
 * model checks (user load/store through the mmap, kernel access through the vmap,
 * device DMA through the mapped table).
 */
#include <stdlib.h>

#include "include/pb_heap_kernel.h"
#include "pb_heap_rt.h"

int pb_module_init(void);
void pb_user_event(int kind, const char *step, unsigned long a, unsigned long b, unsigned long c);
extern int pb_nr_heaps;

#define PB_MAX_OBJS 64
#define PB_USER_BASE 0x7f0000000000UL

struct pb_buf {
	struct dma_buf *dmabuf;
	struct iosys_map map;
	int vmapped;
};
struct pb_att {
	struct dma_buf_attachment att;
	struct sg_table *table;
	int buf;
};

static struct pb_buf bufs[PB_MAX_OBJS];
static struct vm_area_struct vmas[PB_MAX_OBJS];
static struct pb_att atts[PB_MAX_OBJS];
static struct device devs[4] = {
	{ "pb-dev0", 0 }, { "pb-dev1", 1 }, { "pb-dev2", 2 }, { "pb-dev3", 3 },
};
static int nr_bufs, nr_vmas, nr_atts;
static unsigned long next_user_addr = PB_USER_BASE;

static void step(const char *name)
{
	pb_user_event(PB_EV_STEP, name, 0, 0, 0);
}

void pbu_set_callback(pb_event_cb_t cb, int platform, long fault_at)
{
	pb_event_cb = cb;
	pb_platform = platform;
	pb_fault_at = fault_at;
	pb_fault_seq = 0;
}

long pbu_fault_points(void)
{
	return pb_fault_seq;
}

int pbu_boot(void)
{
	step("module_init");
	return pb_module_init();
}

int pbu_heap_count(void)
{
	return pb_nr_heaps;
}

const char *pbu_heap_name(int i)
{
	return i >= 0 && i < pb_nr_heaps ? pb_heaps[i].name : NULL;
}

/* DMA_HEAP_IOCTL_ALLOC: returns a buffer handle or a negative errno */
long pbu_alloc(int heap, unsigned long len)
{
	struct dma_buf *dmabuf;

	if (heap < 0 || heap >= pb_nr_heaps || nr_bufs == PB_MAX_OBJS)
		return -EINVAL;
	step("heap allocate");
	dmabuf = (pb_heaps[heap].ops->allocate)(&pb_heaps[heap], len, 02 | 02000000, 0);
	if (IS_ERR_OR_NULL(dmabuf))
		return dmabuf ? PTR_ERR(dmabuf) : -ENOMEM;
	dmabuf->pb_id = nr_bufs;
	bufs[nr_bufs].dmabuf = dmabuf;
	return nr_bufs++;
}

/* mmap(2) of the dma-buf fd: returns a vma handle or a negative errno */
long pbu_mmap(int buf, unsigned long pgoff, unsigned long npages)
{
	struct vm_area_struct *vma;
	int ret;

	if (buf < 0 || buf >= nr_bufs || nr_vmas == PB_MAX_OBJS)
		return -EINVAL;
	step("mmap");
	vma = &vmas[nr_vmas];
	vma->pb_id = nr_vmas;
	vma->vm_start = next_user_addr;
	vma->vm_end = next_user_addr + npages * PAGE_SIZE;
	vma->vm_pgoff = pgoff;
	vma->vm_flags = VM_READ | VM_WRITE | VM_SHARED;
	/* vm_get_page_prot(): user mappings are private (encrypted) by default */
	vma->vm_page_prot = PAGE_SHARED;
	next_user_addr = vma->vm_end + PAGE_SIZE;
	ret = (bufs[buf].dmabuf->ops->mmap)(bufs[buf].dmabuf, vma);
	if (ret) {
		/* mmap_region() unmaps whatever the failed ->mmap inserted */
		pb_user_event(PB_EV_USER_UNMAP, "munmap after failed mmap", vma->pb_id, 0, 0);
		return ret;
	}
	return nr_vmas++;
}

void pbu_user_access(int vma, int write)
{
	pb_user_event(PB_EV_USER_ACCESS, write ? "user store" : "user load", vma, write, 0);
}

void pbu_munmap(int vma)
{
	pb_user_event(PB_EV_USER_UNMAP, "munmap", vma, 0, 0);
}

int pbu_vmap(int buf)
{
	struct pb_buf *b = &bufs[buf];
	int ret;

	step("dma_buf_vmap");
	ret = (b->dmabuf->ops->vmap)(b->dmabuf, &b->map);
	if (!ret)
		b->vmapped++;
	return ret;
}

void pbu_kernel_access(int buf, int write)
{
	pb_user_event(PB_EV_KERNEL_ACCESS, write ? "kernel store via vmap" : "kernel load via vmap",
		      (unsigned long)bufs[buf].map.vaddr, write, 0);
}

void pbu_vunmap(int buf)
{
	struct pb_buf *b = &bufs[buf];

	step("dma_buf_vunmap");
	(b->dmabuf->ops->vunmap)(b->dmabuf, &b->map);
	b->vmapped--;
}

int pbu_cpu_access(int buf, int begin, int dir)
{
	struct dma_buf *d = bufs[buf].dmabuf;

	step(begin ? "begin_cpu_access" : "end_cpu_access");
	if (begin)
		return d->ops->begin_cpu_access ? (d->ops->begin_cpu_access)(d, dir) : 0;
	return d->ops->end_cpu_access ? (d->ops->end_cpu_access)(d, dir) : 0;
}

long pbu_attach(int buf, int dev)
{
	struct pb_att *a;
	int ret;

	if (nr_atts == PB_MAX_OBJS)
		return -EINVAL;
	step("dma_buf_attach");
	a = &atts[nr_atts];
	a->att.dmabuf = bufs[buf].dmabuf;
	a->att.dev = &devs[dev & 3];
	a->buf = buf;
	if (a->att.dmabuf->ops->attach) {
		ret = (a->att.dmabuf->ops->attach)(a->att.dmabuf, &a->att);
		if (ret)
			return ret;
	}
	return nr_atts++;
}

int pbu_map_attachment(int att, int dir)
{
	struct pb_att *a = &atts[att];
	struct sg_table *t;

	step("dma_buf_map_attachment");
	t = (a->att.dmabuf->ops->map_dma_buf)(&a->att, dir);
	if (IS_ERR_OR_NULL(t))
		return t ? (int)PTR_ERR(t) : -ENOMEM;
	a->table = t;
	return 0;
}

void pbu_device_dma(int att, int write)
{
	struct pb_att *a = &atts[att];

	pb_user_event(PB_EV_DEVICE_DMA, write ? "device DMA write" : "device DMA read",
		      (unsigned long)a->table, a->att.dev->pb_id, write);
}

void pbu_unmap_attachment(int att, int dir)
{
	struct pb_att *a = &atts[att];

	step("dma_buf_unmap_attachment");
	(a->att.dmabuf->ops->unmap_dma_buf)(&a->att, a->table, dir);
	a->table = NULL;
}

void pbu_detach(int att)
{
	struct pb_att *a = &atts[att];

	step("dma_buf_detach");
	if (a->att.dmabuf->ops->detach)
		(a->att.dmabuf->ops->detach)(a->att.dmabuf, &a->att);
}

/* the last dma_buf_put(): the dma-buf core calls ->release and frees the dma_buf */
void pbu_release(int buf)
{
	struct dma_buf *d = bufs[buf].dmabuf;

	step("dma_buf release");
	(d->ops->release)(d);
	free(d);
	bufs[buf].dmabuf = NULL;
}
