/* SPDX-License-Identifier: GPL-2.0 */
/*
 * patchbot userspace shim for building drivers/dma-buf/heaps/system_heap.c.
 *
 * Every <linux/...> header the heap includes resolves to this one file.  It is written
 * for the model, not taken from the kernel: types carry only the fields the heap and
 * its CoCo variants touch, and every memory-path call is a macro that passes the
 * caller's __func__ and __LINE__ to the runtime (pbh_heap_rt.c), which reports the event
 * through the model bridge (pb_bridge.h); the Python side may fail the call there.
 */
#ifndef PB_HEAP_KERNEL_H
#define PB_HEAP_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#include "pb_bridge.h"

/* errno values (x86 Linux); defined here because <errno.h> would find this shim's
 * <linux/errno.h> instead of the system one */
#ifndef EPERM
#define EPERM 1
#define ENOENT 2
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define EAGAIN 11
#define ENOMEM 12
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#define ENOSYS 38
#define EOPNOTSUPP 95
#endif

/* ---- basic kernel types and helpers ---------------------------------------- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;
typedef unsigned int gfp_t;
typedef uint64_t dma_addr_t;
typedef uint64_t phys_addr_t;
typedef long ssize_t_k;

#define __init
#define __exit
#define __user
#define __always_unused __attribute__((unused))
#define __maybe_unused __attribute__((unused))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n) (1UL << (n))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, v) ((x) = (v))

/*
 * Kconfig of the modelled guest: 64-bit x86 without HIGHMEM.  Options set to y are
 * defined to 1; IS_ENABLED() of any other option is 0, as in the kernel.
 */
#define CONFIG_X86_64 1
#define CONFIG_DMABUF_HEAPS 1
#define CONFIG_DMABUF_HEAPS_SYSTEM 1
#define CONFIG_ARCH_HAS_MEM_ENCRYPT 1
#define CONFIG_ARCH_HAS_CC_PLATFORM 1
#define PBH_SET_1 ,
#define pbh_second_arg(ignored, val, ...) val
#define pbh_is_set(maybe_comma) pbh_second_arg(maybe_comma 1, 0, ~)
#define pbh_is_one(val) pbh_is_set(PBH_SET_##val)
#define pbh_option(val) pbh_is_one(val)
#define IS_ENABLED(option) pbh_option(option)
#define IS_BUILTIN(option) pbh_option(option)

/* ---- errors --------------------------------------------------------------- */
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) ((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long error) { return (void *)error; }
static inline long PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool IS_ERR(const void *ptr) { return IS_ERR_VALUE((unsigned long)ptr); }
static inline bool IS_ERR_OR_NULL(const void *ptr) { return !ptr || IS_ERR(ptr); }
static inline void *ERR_CAST(const void *ptr) { return (void *)ptr; }

/* ---- logging and warnings: recorded, never fatal ---------------------------- */
void pbh_warn(const char *func, int line, const char *what);
void pbh_printk(const char *func, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define WARN_ON(cond) ({ bool __c = !!(cond); if (__c) pbh_warn(__func__, __LINE__, #cond); __c; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN(cond, ...) WARN_ON(cond)
#define WARN_ONCE(cond, ...) WARN_ON(cond)
#define BUG_ON(cond) do { if (cond) pbh_bug(__func__, __LINE__, #cond); } while (0)
#define BUG() pbh_bug(__func__, __LINE__, "BUG()")
void pbh_bug(const char *func, int line, const char *what) __attribute__((noreturn));
#define pr_fmt(fmt) fmt
#define pr_err(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define pr_warn(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define pr_info(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define pr_debug(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define pr_warn_ratelimited(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define pr_err_ratelimited(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define pr_warn_once(...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define dev_err(dev, ...) pbh_printk(__func__, __LINE__, __VA_ARGS__)
#define dev_warn(dev, ...) pbh_printk(__func__, __LINE__, __VA_ARGS__)

/* Anything the scenarios never reach is a stub that ends the run naming the symbol. */
#define pbh_unreachable(symbol) pb_unimplemented(symbol, __func__, __LINE__)

/* ---- lists ---------------------------------------------------------------- */
struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *h) { h->next = h; h->prev = h; }
static inline void pbh_list_insert(struct list_head *n, struct list_head *prev,
				  struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h)
{
	pbh_list_insert(n, h, h->next);
}
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	pbh_list_insert(n, h->prev, h);
}
static inline void list_del(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	/* poison like the kernel does, so a use after list_del crashes the run */
	e->next = (struct list_head *)0x100;
	e->prev = (struct list_head *)0x122;
}
static inline void list_del_init(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	INIT_LIST_HEAD(e);
}
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_for_each_entry(pos, head, member)                              \
	for (pos = list_entry((head)->next, __typeof__(*pos), member);     \
	     &pos->member != (head); pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member)                      \
	for (pos = list_entry((head)->next, __typeof__(*pos), member),     \
	     n = list_next_entry(pos, member);                                  \
	     &pos->member != (head); pos = n, n = list_next_entry(n, member))

/* ---- locking: the model runs one thread; locks only count for balance ---------- */
struct mutex {
	int held;
};
#define DEFINE_MUTEX(name) struct mutex name = { 0 }
static inline void mutex_init(struct mutex *m) { m->held = 0; }
void pbh_mutex_lock(struct mutex *m, const char *func, int line);
void pbh_mutex_unlock(struct mutex *m, const char *func, int line);
#define mutex_lock(m) pbh_mutex_lock((m), __func__, __LINE__)
#define mutex_unlock(m) pbh_mutex_unlock((m), __func__, __LINE__)
#define mutex_destroy(m) do { } while (0)
#define might_sleep() do { } while (0)

/* ---- task ------------------------------------------------------------------ */
struct task_struct {
	int pid;
};
extern struct task_struct pbh_current_task;
#define current (&pbh_current_task)
static inline int fatal_signal_pending(struct task_struct *p) { (void)p; return 0; }

/* ---- gfp -------------------------------------------------------------------- */
#define ___GFP_DMA 0x01u
#define ___GFP_HIGHMEM 0x02u
#define ___GFP_DMA32 0x04u
#define ___GFP_MOVABLE 0x08u
#define ___GFP_IO 0x40u
#define ___GFP_FS 0x80u
#define ___GFP_ZERO 0x100u
#define ___GFP_DIRECT_RECLAIM 0x400u
#define ___GFP_KSWAPD_RECLAIM 0x800u
#define ___GFP_NOWARN 0x2000u
#define ___GFP_RETRY_MAYFAIL 0x4000u
#define ___GFP_NOFAIL 0x8000u
#define ___GFP_NORETRY 0x10000u
#define ___GFP_COMP 0x40000u
#define ___GFP_HARDWALL 0x100000u
#define ___GFP_ACCOUNT 0x400000u
#define __GFP_DMA ___GFP_DMA
#define __GFP_HIGHMEM ___GFP_HIGHMEM
#define __GFP_DMA32 ___GFP_DMA32
#define __GFP_MOVABLE ___GFP_MOVABLE
#define __GFP_IO ___GFP_IO
#define __GFP_FS ___GFP_FS
#define __GFP_ZERO ___GFP_ZERO
#define __GFP_DIRECT_RECLAIM ___GFP_DIRECT_RECLAIM
#define __GFP_KSWAPD_RECLAIM ___GFP_KSWAPD_RECLAIM
#define __GFP_RECLAIM (___GFP_DIRECT_RECLAIM | ___GFP_KSWAPD_RECLAIM)
#define __GFP_NOWARN ___GFP_NOWARN
#define __GFP_RETRY_MAYFAIL ___GFP_RETRY_MAYFAIL
#define __GFP_NOFAIL ___GFP_NOFAIL
#define __GFP_NORETRY ___GFP_NORETRY
#define __GFP_COMP ___GFP_COMP
#define __GFP_HARDWALL ___GFP_HARDWALL
#define __GFP_ACCOUNT ___GFP_ACCOUNT
#define GFP_ATOMIC (__GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT (__GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_USER (GFP_KERNEL | __GFP_HARDWALL)
#define GFP_HIGHUSER (GFP_USER | __GFP_HIGHMEM)
#define GFP_HIGHUSER_MOVABLE (GFP_HIGHUSER | __GFP_MOVABLE)
#define GFP_DMA __GFP_DMA
#define GFP_DMA32 __GFP_DMA32

/* ---- pages ------------------------------------------------------------------ */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define ALIGN(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define PAGE_ALIGN(addr) ALIGN(addr, PAGE_SIZE)
#define PAGE_ALIGNED(addr) (((unsigned long)(addr) & (PAGE_SIZE - 1)) == 0)
#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define MAX_ORDER 11

struct page {
	unsigned long flags;
	struct list_head lru;
	unsigned int order;	/* set on the head page of an allocation */
	bool head;
	void *private_data;
};

/* The model's RAM: PB_NR_PAGES pages of real memory; page frame n is pbh_mem_map[n]. */
#define PB_NR_PAGES 4096UL
#define PB_PFN_BASE 0x100000UL
extern struct page pbh_mem_map[];
extern unsigned char *pbh_ram;

static inline unsigned long page_to_pfn(const struct page *page)
{
	return (unsigned long)(page - pbh_mem_map) + PB_PFN_BASE;
}
struct page *pbh_pfn_to_page(unsigned long pfn, const char *func, int line);
#define pfn_to_page(pfn) pbh_pfn_to_page((pfn), __func__, __LINE__)
#define page_to_phys(page) ((phys_addr_t)page_to_pfn(page) << PAGE_SHIFT)
static inline void *page_address(const struct page *page)
{
	return pbh_ram + (size_t)(page - pbh_mem_map) * PAGE_SIZE;
}
#define lowmem_page_address page_address
struct page *pbh_virt_to_page(const void *addr, const char *func, int line);
#define virt_to_page(addr) pbh_virt_to_page((addr), __func__, __LINE__)
#define virt_to_pfn(addr) page_to_pfn(virt_to_page(addr))
#define virt_to_phys(addr) page_to_phys(virt_to_page(addr))
#define nth_page(page, n) ((page) + (n))
#define page_to_virt(page) page_address(page)
static inline unsigned int compound_order(const struct page *page)
{
	return page->head ? page->order : 0;
}
static inline unsigned long page_size(const struct page *page)
{
	return PAGE_SIZE << compound_order(page);
}
static inline unsigned int compound_nr(const struct page *page)
{
	return 1U << compound_order(page);
}
static inline struct page *compound_head(struct page *page) { return page; }
static inline void get_page(struct page *page) { (void)page; }
#define put_page(page) pbh_unreachable("put_page")
static inline bool PageHighMem(const struct page *page) { (void)page; return false; }

struct page *pbh_alloc_pages(gfp_t gfp, unsigned int order, const char *func, int line);
void pbh_free_pages(struct page *page, unsigned int order, const char *func, int line);
unsigned long pbh_get_free_pages(gfp_t gfp, unsigned int order, const char *func, int line);
void pbh_free_pages_addr(unsigned long addr, unsigned int order, const char *func, int line);
#define alloc_pages(gfp, order) pbh_alloc_pages((gfp), (order), __func__, __LINE__)
#define alloc_page(gfp) pbh_alloc_pages((gfp), 0, __func__, __LINE__)
#define __free_pages(page, order) pbh_free_pages((page), (order), __func__, __LINE__)
#define __free_page(page) pbh_free_pages((page), 0, __func__, __LINE__)
#define __get_free_pages(gfp, order) pbh_get_free_pages((gfp), (order), __func__, __LINE__)
#define __get_free_page(gfp) pbh_get_free_pages((gfp), 0, __func__, __LINE__)
#define free_pages(addr, order) pbh_free_pages_addr((addr), (order), __func__, __LINE__)
#define free_page(addr) pbh_free_pages_addr((addr), 0, __func__, __LINE__)

/* ---- protections: one bit stands for the x86 C-bit / inverted TDX shared bit ------- */
typedef struct {
	unsigned long pgprot;
} pgprot_t;
#define __pgprot(x) ((pgprot_t){ (x) })
#define pgprot_val(x) ((x).pgprot)
#define _PAGE_PRESENT 0x001UL
#define _PAGE_RW 0x002UL
#define _PAGE_USER 0x004UL
#define _PAGE_PWT 0x008UL
#define _PAGE_PCD 0x010UL
#define _PAGE_NX (1UL << 63)
#define _PAGE_ENC (1UL << 51) /* the guest's "private" encoding in a PTE */
#define PAGE_KERNEL __pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_NX | _PAGE_ENC)
#define PAGE_KERNEL_RO __pgprot(_PAGE_PRESENT | _PAGE_NX | _PAGE_ENC)
#define PAGE_SHARED __pgprot(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_NX | _PAGE_ENC)
pgprot_t pbh_pgprot_decrypted(pgprot_t prot, const char *func, int line);
pgprot_t pbh_pgprot_encrypted(pgprot_t prot, const char *func, int line);
#define pgprot_decrypted(prot) pbh_pgprot_decrypted((prot), __func__, __LINE__)
#define pgprot_encrypted(prot) pbh_pgprot_encrypted((prot), __func__, __LINE__)
#define pgprot_writecombine(prot) __pgprot(pgprot_val(prot) | _PAGE_PWT)
#define pgprot_noncached(prot) __pgprot(pgprot_val(prot) | _PAGE_PCD)

/* ---- user mappings ------------------------------------------------------------ */
typedef unsigned long vm_flags_t;
#define VM_READ 0x1UL
#define VM_WRITE 0x2UL
#define VM_SHARED 0x8UL
#define VM_IO 0x4000UL
#define VM_DONTEXPAND 0x40000UL
#define VM_DONTDUMP 0x4000000UL
#define VM_PFNMAP 0x400UL
#define VM_MIXEDMAP 0x10000000UL

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_pgoff;
	vm_flags_t vm_flags;
	pgprot_t vm_page_prot;
	void *vm_private_data;
	int pbh_id; /* the model's handle for this mapping */
};
static inline unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
int pbh_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
		       unsigned long size, pgprot_t prot, const char *func, int line);
int pbh_vm_map_pages(struct vm_area_struct *vma, struct page **pages, unsigned long num,
		    const char *func, int line);
int pbh_vm_insert_page(struct vm_area_struct *vma, unsigned long addr, struct page *page,
		      const char *func, int line);
#define remap_pfn_range(vma, addr, pfn, size, prot) \
	pbh_remap_pfn_range((vma), (addr), (pfn), (size), (prot), __func__, __LINE__)
#define vm_map_pages(vma, pages, num) pbh_vm_map_pages((vma), (pages), (num), __func__, __LINE__)
#define vm_insert_page(vma, addr, page) \
	pbh_vm_insert_page((vma), (addr), (page), __func__, __LINE__)

/* ---- memory encryption (MODEL-FACTS §2, §10) ------------------------------------ */
enum cc_attr {
	CC_ATTR_MEM_ENCRYPT,
	CC_ATTR_HOST_MEM_ENCRYPT,
	CC_ATTR_GUEST_MEM_ENCRYPT,
	CC_ATTR_GUEST_STATE_ENCRYPT,
	CC_ATTR_GUEST_UNROLL_STRING_IO,
	CC_ATTR_GUEST_SEV_SNP,
	CC_ATTR_HOTPLUG_DISABLED,
};
bool pbh_cc_platform_has(enum cc_attr attr, const char *func, int line);
#define cc_platform_has(attr) pbh_cc_platform_has((attr), __func__, __LINE__)
int pbh_set_memory_encrypted(unsigned long addr, int numpages, const char *func, int line);
int pbh_set_memory_decrypted(unsigned long addr, int numpages, const char *func, int line);
#define set_memory_encrypted(addr, numpages) \
	pbh_set_memory_encrypted((unsigned long)(addr), (numpages), __func__, __LINE__)
#define set_memory_decrypted(addr, numpages) \
	pbh_set_memory_decrypted((unsigned long)(addr), (numpages), __func__, __LINE__)

/* ---- slab and vmalloc ---------------------------------------------------------- */
void *pbh_kmalloc(size_t size, gfp_t gfp, bool zero, const char *api, const char *func,
		  int line);
void pbh_kfree(const void *p, const char *func, int line);
#define pbh_alloc_call(api, size, gfp, zero) pbh_kmalloc((size), (gfp), (zero), api, __func__, __LINE__)
#define kmalloc(size, gfp) pbh_alloc_call("kmalloc", size, gfp, false)
#define kzalloc(size, gfp) pbh_alloc_call("kzalloc", size, gfp, true)
#define kcalloc(n, size, gfp) pbh_alloc_call("kcalloc", (n) * (size), gfp, true)
#define kmalloc_array(n, size, gfp) pbh_alloc_call("kmalloc_array", (n) * (size), gfp, false)
#define kvmalloc(size, gfp) pbh_alloc_call("kmalloc", size, gfp, false)
#define kvmalloc_array(n, size, gfp) pbh_alloc_call("kmalloc_array", (n) * (size), gfp, false)
#define vmalloc(size) pbh_alloc_call("vmalloc", size, GFP_KERNEL, false)
#define vzalloc(size) pbh_alloc_call("vzalloc", size, GFP_KERNEL, true)
#define kfree(p) pbh_kfree((p), __func__, __LINE__)
#define kvfree(p) pbh_kfree((p), __func__, __LINE__)
#define vfree(p) pbh_kfree((p), __func__, __LINE__)
#define VM_MAP 0x4UL
#define VM_USERMAP 0x8UL
void *pbh_vmap(struct page **pages, unsigned int count, unsigned long flags, pgprot_t prot,
	      const char *func, int line);
void pbh_vunmap(const void *addr, const char *func, int line);
#define vmap(pages, count, flags, prot) \
	pbh_vmap((pages), (count), (flags), (prot), __func__, __LINE__)
#define vunmap(addr) pbh_vunmap((addr), __func__, __LINE__)
static inline void invalidate_kernel_vmap_range(void *vaddr, int size)
{
	(void)vaddr;
	(void)size;
}
static inline void flush_kernel_vmap_range(void *vaddr, int size)
{
	(void)vaddr;
	(void)size;
}

/* ---- modules ---------------------------------------------------------------------------
 * module_init() names the entry point the harness calls; one per driver file.
 */
#define module_init(fn) \
	int pb_module_init(void) { return fn(); }
#define module_exit(fn) \
	void pb_module_exit(void) { fn(); }
#define MODULE_LICENSE(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_AUTHOR(x)
#define MODULE_IMPORT_NS(x)
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#define EXPORT_SYMBOL_NS_GPL(x, ns)

#include "pb_heap_dma.h"

#endif /* PB_HEAP_KERNEL_H */
