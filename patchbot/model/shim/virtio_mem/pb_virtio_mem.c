// SPDX-License-Identifier: GPL-2.0
/*
 * patchbot shim for virtio_mem.c: the virtio transport (requests go to the Python device
 * model and complete synchronously), the memory-hotplug core (memory blocks, the
 * notifier chain with CANCEL_ONLINE/CANCEL_OFFLINE, the online-page callback) and the
 * entry points the scenario drives (pb_vm_*).
 */
#include <linux/virtio_mem.h>
#include "pb_virtio_mem.h"


/* ---- device config space, written by the Python device model ---- */
static struct virtio_mem_config pb_vm_config;
static struct virtio_device pb_vdev = { .dev = { .init_name = "virtio0" } };
static struct virtqueue pb_vq;

void pb_vm_set_config(u64 block_size, u64 addr, u64 region_size, u64 usable,
		      u64 plugged, u64 requested)
{
	pb_vm_config.block_size = block_size;
	pb_vm_config.node_id = 0;
	pb_vm_config.addr = addr;
	pb_vm_config.region_size = region_size;
	pb_vm_config.usable_region_size = usable;
	pb_vm_config.plugged_size = plugged;
	pb_vm_config.requested_size = requested;
}

static void pb_vm_get(struct virtio_device *vdev, unsigned int off, void *buf, unsigned int len)
{
	memcpy(buf, (char *)&pb_vm_config + off, len);
}

static void pb_vm_del_vqs(struct virtio_device *vdev)
{
	pb_vq.callback = NULL;
}

static const struct virtio_config_ops pb_vm_ops = { .get = pb_vm_get, .del_vqs = pb_vm_del_vqs };

struct virtqueue *pb_virtio_find_single_vq(struct virtio_device *vdev, vq_callback_t *cb,
					   const char *name, PB_LOC_PARAMS)
{
	if (PB_EV("virtio_find_single_vq", 0, 0, 0, 0))
		return ERR_PTR(-ENOMEM);
	pb_vq.vdev = vdev;
	pb_vq.callback = cb;
	return &pb_vq;
}

int pb_virtqueue_add_sgs(struct virtqueue *vq, struct scatterlist *sgs[], unsigned int out,
			 unsigned int in, void *data, gfp_t gfp, PB_LOC_PARAMS)
{
	const struct virtio_mem_req *req = sgs[0]->buf;
	struct virtio_mem_resp *resp = sgs[1]->buf;
	long type;

	/* the device answers at once; the handler returns the response type */
	type = PB_EV("virtio_mem_request", req->type, req->u.plug.addr, req->u.plug.nb_blocks, 0);
	memset(resp, 0, sizeof(*resp));
	resp->type = (u16)type;
	vq->done_data = data;
	vq->done_len = sizeof(*resp);
	if (vq->callback)
		vq->callback(vq);
	return 0;
}

void *virtqueue_get_buf(struct virtqueue *vq, unsigned int *len)
{
	void *d = vq->done_data;

	vq->done_data = NULL;
	if (len)
		*len = vq->done_len;
	return d;
}

/* ---- resources ---- */
static struct resource pb_parent;
static int pb_parent_taken;

struct resource *pb_request_mem_region(resource_size_t start, resource_size_t n,
				       const char *name, unsigned long flags, PB_LOC_PARAMS)
{
	if (pb_parent_taken || PB_EV("__request_mem_region", start, n, 0, 0))
		return NULL;
	pb_parent_taken = 1;
	pb_parent.start = start;
	pb_parent.end = start + n - 1;
	pb_parent.name = name;
	pb_parent.flags = flags | IORESOURCE_BUSY;
	/* the driver kfree()s it on release: hand out a heap copy */
	{
		struct resource *r = malloc(sizeof(*r));
		*r = pb_parent;
		return r;
	}
}

int release_resource(struct resource *r)
{
	pb_parent_taken = 0;
	return 0;
}

/* ---- memory blocks ---- */
#define PB_NR_BLOCKS (PB_MEMMAP_PAGES / PAGES_PER_SECTION)
enum { PB_MB_ABSENT, PB_MB_OFFLINE, PB_MB_ONLINE };
static int pb_mb_state[PB_NR_BLOCKS];
static struct notifier_block *pb_notifiers;
static online_page_callback_t pb_online_cb = pb_default_online_page;
static int pb_auto_online = 1;
static int pb_groups;

static long pb_block_of(u64 addr)
{
	return (long)((PHYS_PFN(addr) - PB_MEMMAP_BASE_PFN) / PAGES_PER_SECTION);
}

static unsigned long pb_block_pfn(long mb)
{
	return PB_MEMMAP_BASE_PFN + mb * PAGES_PER_SECTION;
}

int register_memory_notifier(struct notifier_block *nb)
{
	nb->next = pb_notifiers;
	pb_notifiers = nb;
	return 0;
}

void unregister_memory_notifier(struct notifier_block *nb)
{
	struct notifier_block **p;

	for (p = &pb_notifiers; *p; p = &(*p)->next)
		if (*p == nb) {
			*p = nb->next;
			return;
		}
}

int set_online_page_callback(online_page_callback_t cb)
{
	if (pb_online_cb != pb_default_online_page)
		return -EBUSY;
	pb_online_cb = cb;
	return 0;
}

int restore_online_page_callback(online_page_callback_t cb)
{
	if (pb_online_cb != cb)
		return -EINVAL;
	pb_online_cb = pb_default_online_page;
	return 0;
}

int memory_group_register_dynamic(int nid, unsigned long unit_pages)
{
	return ++pb_groups;
}

int memory_group_unregister(int mgid)
{
	return 0;
}

static int pb_notify(unsigned long action, long mb)
{
	struct memory_notify arg = { .start_pfn = pb_block_pfn(mb), .nr_pages = PAGES_PER_SECTION };
	struct notifier_block *nb;
	int ret = NOTIFY_DONE;

	pb_event("memory_notify", "memory_hotplug", 0, (long)action, (long)arg.start_pfn,
		 (long)arg.nr_pages, 0);
	for (nb = pb_notifiers; nb; nb = nb->next) {
		ret = nb->notifier_call(nb, action, &arg);
		if (ret & NOTIFY_STOP_MASK)
			break;
	}
	/* the model checks what a notifier must have done by the time it returns */
	pb_event("memory_notify_done", "memory_hotplug", 0, (long)action, (long)arg.start_pfn,
		 (long)arg.nr_pages, 0);
	return notifier_to_errno(ret);
}

/* online_pages(): GOING_ONLINE, the online-page callback per MAX_ORDER chunk, ONLINE */
long pb_vm_online_block(long mb)
{
	unsigned long pfn = pb_block_pfn(mb), i;

	if (mb < 0 || mb >= (long)PB_NR_BLOCKS || pb_mb_state[mb] != PB_MB_OFFLINE)
		return -EINVAL;
	if (pb_notify(MEM_GOING_ONLINE, mb)) {
		pb_notify(MEM_CANCEL_ONLINE, mb);
		return -EBUSY;
	}
	/* a later step of onlining (another notifier, zone setup) can still fail */
	if (pb_event("online_pages", "memory_hotplug", 0, (long)pfn, PAGES_PER_SECTION, 0, 0)) {
		pb_notify(MEM_CANCEL_ONLINE, mb);
		return -ENOMEM;
	}
	for (i = 0; i < PAGES_PER_SECTION; i += MAX_ORDER_NR_PAGES)
		pb_online_cb(pfn_to_page(pfn + i), MAX_ORDER - 1);
	pb_event("online_pages_done", "memory_hotplug", 0, (long)pfn, PAGES_PER_SECTION, 0, 0);
	pb_mb_state[mb] = PB_MB_ONLINE;
	pb_notify(MEM_ONLINE, mb);
	return 0;
}

/* offline_pages(): GOING_OFFLINE, isolate (fails if pages are in use), OFFLINE */
long pb_vm_offline_block(long mb)
{
	unsigned long pfn = pb_block_pfn(mb);

	if (mb < 0 || mb >= (long)PB_NR_BLOCKS || pb_mb_state[mb] != PB_MB_ONLINE)
		return -EINVAL;
	if (pb_notify(MEM_GOING_OFFLINE, mb)) {
		pb_notify(MEM_CANCEL_OFFLINE, mb);
		return -EBUSY;
	}
	/* the handler refuses when a page is allocated and not PageOffline */
	if (pb_event("offline_pages", "memory_hotplug", 0, (long)pfn, PAGES_PER_SECTION, 0, 0)) {
		pb_notify(MEM_CANCEL_OFFLINE, mb);
		return -EBUSY;
	}
	pb_mb_state[mb] = PB_MB_OFFLINE;
	pb_notify(MEM_OFFLINE, mb);
	return 0;
}

long pb_vm_block_state(long mb)
{
	return pb_mb_state[mb];
}

void pb_vm_set_auto_online(long on)
{
	pb_auto_online = (int)on;
}

struct page *pfn_to_online_page(unsigned long pfn)
{
	if (!pfn_valid(pfn))
		return NULL;
	return pb_mb_state[(pfn - PB_MEMMAP_BASE_PFN) / PAGES_PER_SECTION] == PB_MB_ONLINE ?
	       pfn_to_page(pfn) : NULL;
}

int pb_add_memory_driver_managed(int nid, u64 start, u64 size, const char *name, mhp_t flags,
				 PB_LOC_PARAMS)
{
	long mb, first = pb_block_of(start), last = pb_block_of(start + size - 1);

	if (first < 0 || last >= (long)PB_NR_BLOCKS)
		return -ERANGE;
	for (mb = first; mb <= last; mb++)
		if (pb_mb_state[mb] != PB_MB_ABSENT)
			return -EEXIST;
	if (PB_EV("add_memory_driver_managed", PHYS_PFN(start), PHYS_PFN(size), 0, 0))
		return -ENOMEM;
	for (mb = first; mb <= last; mb++) {
		unsigned long i;

		/* a fresh memmap: every page starts with one reference and, as since 6.12
		 * (memmap_init_range() for MEMINIT_HOTPLUG), PageOffline() until the core's
		 * generic_online_page() hands it to the buddy (6.1 drivers set the flag
		 * themselves and never test it before) */
		memset(&pb_memmap[mb * PAGES_PER_SECTION], 0,
		       PAGES_PER_SECTION * sizeof(struct page));
		for (i = 0; i < PAGES_PER_SECTION; i++) {
			pb_memmap[mb * PAGES_PER_SECTION + i]._refcount = 1;
			__SetPageOffline(&pb_memmap[mb * PAGES_PER_SECTION + i]);
		}
		pb_mb_state[mb] = PB_MB_OFFLINE;
	}
	/* memhp_default_state=online: the core onlines what it adds */
	if (pb_auto_online)
		for (mb = first; mb <= last; mb++)
			pb_vm_online_block(mb);
	return 0;
}

int pb_remove_memory(u64 start, u64 size, PB_LOC_PARAMS)
{
	long mb, first = pb_block_of(start), last = pb_block_of(start + size - 1);

	for (mb = first; mb <= last; mb++)
		if (pb_mb_state[mb] != PB_MB_OFFLINE)
			return -EBUSY;
	PB_EV("remove_memory", PHYS_PFN(start), PHYS_PFN(size), 0, 0);
	for (mb = first; mb <= last; mb++)
		pb_mb_state[mb] = PB_MB_ABSENT;
	return 0;
}

int pb_offline_and_remove_memory(u64 start, u64 size, PB_LOC_PARAMS)
{
	long mb, first = pb_block_of(start), last = pb_block_of(start + size - 1);
	int rc = 0;

	for (mb = first; mb <= last && !rc; mb++)
		if (pb_mb_state[mb] == PB_MB_ONLINE)
			rc = (int)pb_vm_offline_block(mb);
	if (rc) {
		/* roll back: online what we offlined */
		for (mb = mb - 2; mb >= first; mb--)
			if (pb_mb_state[mb] == PB_MB_OFFLINE)
				pb_vm_online_block(mb);
		return rc;
	}
	return pb_remove_memory(start, size, __pb_func, __pb_line);
}

int walk_iomem_res_desc(unsigned long desc, unsigned long flags, u64 start, u64 end,
			void *arg, int (*func)(struct resource *, void *))
{
	long mb;

	for (mb = pb_block_of(start); mb <= pb_block_of(end - 1) && mb < (long)PB_NR_BLOCKS; mb++)
		if (pb_mb_state[mb] != PB_MB_ABSENT)
			return func(&pb_parent, arg);
	return 0;
}

/* ---- driver entry points for the scenario ---- */
extern int pb_module_init(void);

long pb_vm_probe(u64 features)
{
	pb_vdev.config = &pb_vm_ops;
	pb_vdev.features = features;
	return pb_virtio_driver->probe(&pb_vdev);
}

void pb_vm_config_changed(void)
{
	pb_virtio_driver->config_changed(&pb_vdev);
}

void pb_vm_remove(void)
{
	pb_virtio_driver->remove(&pb_vdev);
}
