/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contract between the heap shim runtime (C) and the Python model.
 *
 * Every memory-path call reports one event through pb_event_cb.  Fault points (every
 * allocation, conversion, DMA mapping, user-mapping insertion and buffer export) are
 * numbered in the order they happen; the run whose pb_fault_at equals a point's number
 * fails that call, which lets the model inject each single fault in turn.
 */
#ifndef PB_HEAP_RT_H
#define PB_HEAP_RT_H

enum pb_event_kind {
	PB_EV_ALLOC_PAGES = 1,	/* a=pfn b=order c=gfp */
	PB_EV_FREE_PAGES,	/* a=pfn b=order */
	PB_EV_KMALLOC,		/* a=ptr b=size */
	PB_EV_KFREE,		/* a=ptr */
	PB_EV_SG_ALLOC,		/* a=table b=nents */
	PB_EV_SG_FREE,		/* a=table */
	PB_EV_SET_DECRYPTED,	/* a=pfn b=numpages */
	PB_EV_SET_ENCRYPTED,	/* a=pfn b=numpages */
	PB_EV_CC_HAS,		/* a=attr */
	PB_EV_PGPROT_DECRYPTED,	/* a=prot before */
	PB_EV_USER_MAP,		/* a=vma id b=first pfn c=npages d=1 if prot encrypted */
	PB_EV_VMAP,		/* a=vaddr b=npages c=1 if prot encrypted d=pfn array */
	PB_EV_VUNMAP,		/* a=vaddr */
	PB_EV_DMA_MAP,		/* a=table b=device c=attrs d=pfn array, e=npages */
	PB_EV_DMA_UNMAP,	/* a=table b=device c=attrs */
	PB_EV_DMA_SYNC,		/* a=table b=device c=1 for cpu */
	PB_EV_BUF_EXPORT,	/* a=dma_buf */
	PB_EV_HEAP_ADD,		/* a=heap index d=name */
	PB_EV_WARN,		/* d=message */
	PB_EV_LOCK,		/* a=mutex b=1 lock, 0 unlock */
	/* events of the heap user (the scenario), not of the driver */
	PB_EV_STEP = 64,	/* d=step name; marks the trace */
	PB_EV_USER_ACCESS,	/* a=vma id b=write */
	PB_EV_USER_UNMAP,	/* a=vma id */
	PB_EV_KERNEL_ACCESS,	/* a=vaddr b=write */
	PB_EV_DEVICE_DMA,	/* a=table b=device c=write */
	PB_EV_DIRECT_ACCESS,	/* a=pfn b=npages c=write: the heap user touching pages via page_address */
};

/* result: 0 or the negative errno the call returned; injected: this call's fault was forced */
typedef void (*pb_event_cb_t)(int kind, const char *func, int line, unsigned long a,
			      unsigned long b, unsigned long c, unsigned long d, unsigned long e,
			      long result, int injected);

#define PB_MAX_HEAPS 8
struct dma_heap_ops;
struct dma_heap {
	const char *name;
	const struct dma_heap_ops *ops;
	void *priv;
};
extern struct dma_heap pb_heaps[PB_MAX_HEAPS];

extern pb_event_cb_t pb_event_cb;
extern long pb_fault_at;	/* 1-based fault point to fail in this run; 0 = none */
extern long pb_fault_seq;	/* fault points seen so far */
extern int pb_platform;		/* 0 none, 1 tdx, 2 snp */

#endif
