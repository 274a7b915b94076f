/* SPDX-License-Identifier: GPL-2.0 */
/*
 * patchbot shim for virtio_mem.c: virtio transport, memory hotplug core, resources.
 * The device itself is modelled in Python (patchbot/model/virtio_mem/device.py).
 */
#ifndef PB_VIRTIO_MEM_H
#define PB_VIRTIO_MEM_H
#include "pb_mm.h"

/* --- virtio --- */
struct scatterlist { void *buf; unsigned int length; };
static inline void sg_init_one(struct scatterlist *sg, const void *buf, unsigned int len)
{ sg->buf = (void *)buf; sg->length = len; }
struct virtio_device;
struct virtqueue;
typedef void vq_callback_t(struct virtqueue *);
struct virtio_config_ops {
	void (*get)(struct virtio_device *vdev, unsigned int offset, void *buf, unsigned int len);
	void (*del_vqs)(struct virtio_device *vdev);
	void (*reset)(struct virtio_device *vdev);
};
struct virtio_device {
	struct device dev;
	const struct virtio_config_ops *config;
	u64 features;
	void *priv;
};
struct virtqueue {
	struct virtio_device *vdev;
	vq_callback_t *callback;
	void *done_data;  /* completed request's token, returned once by get_buf */
	unsigned int done_len;
};
struct virtio_device_id { u32 device; u32 vendor; };
#define VIRTIO_DEV_ANY_ID 0xffffffff
struct device_driver { const char *name; struct module *owner; };
struct virtio_driver {
	struct device_driver driver;
	const struct virtio_device_id *id_table;
	const unsigned int *feature_table;
	unsigned int feature_table_size;
	int (*probe)(struct virtio_device *dev);
	void (*remove)(struct virtio_device *dev);
	void (*config_changed)(struct virtio_device *dev);
	int (*freeze)(struct virtio_device *dev);
	int (*restore)(struct virtio_device *dev);
};
extern struct virtio_driver *pb_virtio_driver;
#define module_virtio_driver(d) struct virtio_driver *pb_virtio_driver = &(d)
int pb_virtqueue_add_sgs(struct virtqueue *vq, struct scatterlist *sgs[], unsigned int out,
			 unsigned int in, void *data, gfp_t gfp, PB_LOC_PARAMS);
#define virtqueue_add_sgs(vq, s, o, i, d, g) pb_virtqueue_add_sgs(vq, s, o, i, d, g, PB_LOC)
#define virtqueue_kick(vq) ((void)(vq), true)
void *virtqueue_get_buf(struct virtqueue *vq, unsigned int *len);
struct virtqueue *pb_virtio_find_single_vq(struct virtio_device *vdev, vq_callback_t *cb,
					   const char *name, PB_LOC_PARAMS);
#define virtio_find_single_vq(v, c, n) pb_virtio_find_single_vq(v, c, n, PB_LOC)
#define virtio_device_ready(v) ((void)(v))
#define virtio_reset_device(v) ((void)(v))
#define virtio_has_feature(v, f) (!!((v)->features & (1ULL << (f))))
#define cpu_to_virtio16(v, x) ((u16)(x))
#define cpu_to_virtio32(v, x) ((u32)(x))
#define cpu_to_virtio64(v, x) ((u64)(x))
#define virtio16_to_cpu(v, x) ((u16)(x))
#define virtio32_to_cpu(v, x) ((u32)(x))
#define virtio64_to_cpu(v, x) ((u64)(x))
/* the model machine is little endian, like the virtio-mem config space */
#define virtio_cread_le(vdev, structname, member, ptr) \
	(vdev)->config->get((vdev), offsetof(structname, member), (ptr), sizeof(*(ptr)))

/* --- resources --- */
struct resource {
	resource_size_t start, end;
	const char *name;
	unsigned long flags;
	unsigned long desc;
};
#define IORESOURCE_BUSY 0x80000000UL
#define IORESOURCE_SYSTEM_RAM 0x01000200UL
#define IORESOURCE_EXCLUSIVE 0x08000000UL
#define IORES_DESC_NONE 0
struct resource *pb_request_mem_region(resource_size_t start, resource_size_t n,
				       const char *name, unsigned long flags, PB_LOC_PARAMS);
#define __request_mem_region(s, n, name, f) pb_request_mem_region(s, n, name, f, PB_LOC)
int release_resource(struct resource *r);
int walk_iomem_res_desc(unsigned long desc, unsigned long flags, u64 start, u64 end,
			void *arg, int (*func)(struct resource *, void *));

/* --- memory hotplug --- */
struct notifier_block {
	int (*notifier_call)(struct notifier_block *nb, unsigned long action, void *data);
	struct notifier_block *next;
	int priority;
};
#define NOTIFY_DONE 0x0000
#define NOTIFY_OK 0x0001
#define NOTIFY_STOP_MASK 0x8000
#define NOTIFY_BAD (NOTIFY_STOP_MASK | 0x0002)
static inline int notifier_from_errno(int err) { return err ? (NOTIFY_STOP_MASK | (NOTIFY_OK - err)) : NOTIFY_OK; }
static inline int notifier_to_errno(int ret) { ret &= ~NOTIFY_STOP_MASK; return ret > NOTIFY_OK ? NOTIFY_OK - ret : 0; }
#define MEM_ONLINE (1 << 0)
#define MEM_GOING_OFFLINE (1 << 1)
#define MEM_OFFLINE (1 << 2)
#define MEM_GOING_ONLINE (1 << 3)
#define MEM_CANCEL_ONLINE (1 << 4)
#define MEM_CANCEL_OFFLINE (1 << 5)
struct memory_notify {
	unsigned long start_pfn;
	unsigned long nr_pages;
	int status_change_nid_normal;
	int status_change_nid;
};
int register_memory_notifier(struct notifier_block *nb);
void unregister_memory_notifier(struct notifier_block *nb);
typedef void (*online_page_callback_t)(struct page *page, unsigned int order);
int set_online_page_callback(online_page_callback_t cb);
int restore_online_page_callback(online_page_callback_t cb);
#define PB_MEMORY_BLOCK_SIZE (64 * PAGE_SIZE)
static inline unsigned long memory_block_size_bytes(void) { return PB_MEMORY_BLOCK_SIZE; }
#define PAGES_PER_SECTION (PB_MEMORY_BLOCK_SIZE / PAGE_SIZE)
typedef int mhp_t;
#define MHP_NONE 0
#define MHP_MERGE_RESOURCE 1
#define MHP_NID_IS_MGID 4
struct range { u64 start; u64 end; };
static inline struct range mhp_get_pluggable_range(bool need_mapping)
{ struct range r = { PFN_PHYS(PB_MEMMAP_BASE_PFN), PFN_PHYS(PB_MEMMAP_BASE_PFN + PB_MEMMAP_PAGES) - 1 }; return r; }
int pb_add_memory_driver_managed(int nid, u64 start, u64 size, const char *name, mhp_t flags,
				 PB_LOC_PARAMS);
#define add_memory_driver_managed(n, s, z, name, f) pb_add_memory_driver_managed(n, s, z, name, f, PB_LOC)
int pb_remove_memory(u64 start, u64 size, PB_LOC_PARAMS);
#define remove_memory(s, z) pb_remove_memory(s, z, PB_LOC)
int pb_offline_and_remove_memory(u64 start, u64 size, PB_LOC_PARAMS);
#define offline_and_remove_memory(s, z) pb_offline_and_remove_memory(s, z, PB_LOC)
struct page *pfn_to_online_page(unsigned long pfn);
int memory_group_register_dynamic(int nid, unsigned long unit_pages);
int memory_group_unregister(int mgid);
#define memory_add_physaddr_to_nid(a) 0
#define is_kdump_kernel() false
struct vmcore_cb { bool (*pfn_is_ram)(struct vmcore_cb *cb, unsigned long pfn); struct list_head next; };
#define register_vmcore_cb(cb) PB_STUB(register_vmcore_cb)
#define unregister_vmcore_cb(cb) PB_STUB(unregister_vmcore_cb)
#define pxm_to_node(p) 0
#endif
