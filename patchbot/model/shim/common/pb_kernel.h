/* SPDX-License-Identifier: GPL-2.0 */
/*
 * patchbot shim: the small part of the kernel API every modelled driver needs.
 * Written for the model from the documented semantics; no kernel code is copied.
 * Every linux/<x>.h in this directory includes this file (plus its own extras).
 */
#ifndef PB_KERNEL_H
#define PB_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include "pb_bridge.h"

typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int8_t s8; typedef int16_t s16; typedef int32_t s32; typedef int64_t s64;
typedef u8 __u8; typedef u16 __u16; typedef u32 __u32; typedef u64 __u64;
typedef s8 __s8; typedef s16 __s16; typedef s32 __s32; typedef s64 __s64;
typedef u16 __le16; typedef u32 __le32; typedef u64 __le64;
typedef u16 __be16; typedef u32 __be32; typedef u64 __be64;
typedef u64 __aligned_u64;
typedef u64 phys_addr_t;
typedef u64 resource_size_t;
typedef unsigned int gfp_t;
typedef s64 ktime_t;
typedef struct { int counter; } atomic_t;
typedef struct { s64 counter; } atomic64_t;

#define __bitwise
#define __force
#define __user
#define __iomem
#define __must_check
#define __init
#define __exit
#define __initdata
#define __read_mostly
#define __ro_after_init
#define __maybe_unused __attribute__((unused))
#define __always_inline inline
#define noinline __attribute__((noinline))
#define fallthrough __attribute__((fallthrough))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, v) ((x) = (v))
#define barrier() __asm__ __volatile__("" ::: "memory")
#define might_sleep() do { } while (0)
#define cond_resched() do { } while (0)
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)

#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "patchbot_driver"
#endif
#define IS_ENABLED(opt) 0
#define BITS_PER_LONG 64
#define BIT(n) (1UL << (n))
#define BITS_TO_LONGS(n) (((n) + BITS_PER_LONG - 1) / BITS_PER_LONG)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define clamp(v, lo, hi) min(max(v, lo), hi)
#define ALIGN(x, a) (((x) + (a) - 1) & ~((typeof(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((typeof(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((typeof(x))(a) - 1)) == 0)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define BUILD_BUG_ON(c) _Static_assert(!(c), #c)
#define ilog2(n) ((int)(63 - __builtin_clzll((unsigned long long)(n))))
#define is_power_of_2(n) ((n) != 0 && (((n) & ((n) - 1)) == 0))
#define IS_ERR_VALUE(x) ((unsigned long)(void *)(x) >= (unsigned long)-4095)
static inline void *ERR_PTR(long e) { return (void *)e; }
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p) { return IS_ERR_VALUE(p); }
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR_VALUE(p); }

/* Warnings and bugs are events: a BUG() ends the run as a violation. */
long pb_warn(const char *cond, PB_LOC_PARAMS);
#define WARN_ON(c) ({ int __c = !!(c); if (__c) pb_warn(#c, PB_LOC); __c; })
#define WARN_ON_ONCE(c) WARN_ON(c)
#define WARN(c, ...) WARN_ON(c)
#define WARN_ONCE(c, ...) WARN_ON(c)
#define BUG() do { pb_event("BUG", __func__, __LINE__, 0, 0, 0, 0); abort(); } while (0)
#define BUG_ON(c) do { if (c) BUG(); } while (0)

/* printk and friends: messages are not modelled */
#define pb_noprint(...) do { } while (0)
#define printk(...) pb_noprint()
#define pr_err(...) pb_noprint()
#define pr_warn(...) pb_noprint()
#define pr_info(...) pb_noprint()
#define pr_debug(...) pb_noprint()
#define pr_warn_once(...) pb_noprint()
#define dev_err(d, ...) pb_noprint()
#define dev_warn(d, ...) pb_noprint()
#define dev_warn_once(d, ...) pb_noprint()
#define dev_warn_ratelimited(d, ...) pb_noprint()
#define dev_info(d, ...) pb_noprint()
#define dev_dbg(d, ...) pb_noprint()

struct device {
	const char *init_name;
	void *driver_data;
};
static inline const char *dev_name(const struct device *d) { return d->init_name; }

/* atomics (the model is single threaded) */
#define atomic_read(a) ((a)->counter)
#define atomic_set(a, v) ((a)->counter = (v))
#define atomic_inc(a) ((a)->counter++)
#define atomic_dec(a) ((a)->counter--)
#define atomic64_read(a) ((a)->counter)
#define atomic64_set(a, v) ((a)->counter = (v))
#define atomic64_add(v, a) ((a)->counter += (v))
#define atomic64_sub(v, a) ((a)->counter -= (v))

/* lists */
struct list_head { struct list_head *next, *prev; };
#define LIST_HEAD_INIT(n) { &(n), &(n) }
#define LIST_HEAD(n) struct list_head n = LIST_HEAD_INIT(n)
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline void list_add(struct list_head *n, struct list_head *h)
{ n->next = h->next; n->prev = h; h->next->prev = n; h->next = n; }
static inline void list_add_tail(struct list_head *n, struct list_head *h)
{ n->prev = h->prev; n->next = h; h->prev->next = n; h->prev = n; }
static inline void list_del(struct list_head *e)
{ e->prev->next = e->next; e->next->prev = e->prev; e->next = e->prev = e; }
static inline void list_del_init(struct list_head *e) { list_del(e); }
static inline int list_empty(const struct list_head *h) { return h->next == h; }
#define list_add_rcu list_add
#define list_del_rcu list_del
#define list_entry(p, t, m) container_of(p, t, m)
#define list_first_entry(h, t, m) list_entry((h)->next, t, m)
#define list_for_each_entry(pos, head, member) \
	for (pos = list_entry((head)->next, typeof(*pos), member); \
	     &pos->member != (head); pos = list_entry(pos->member.next, typeof(*pos), member))
#define list_for_each_entry_safe(pos, n, head, member) \
	for (pos = list_entry((head)->next, typeof(*pos), member), \
	     n = list_entry(pos->member.next, typeof(*pos), member); \
	     &pos->member != (head); pos = n, n = list_entry(n->member.next, typeof(*n), member))
#define list_for_each_entry_rcu(pos, head, member, ...) list_for_each_entry(pos, head, member)
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
#define synchronize_rcu() do { } while (0)

/* locks: single threaded, but a second lock of a held mutex is a deadlock */
struct mutex { int locked; };
#define DEFINE_MUTEX(n) struct mutex n = { 0 }
#define mutex_init(m) ((m)->locked = 0)
void pb_mutex_lock(struct mutex *m, PB_LOC_PARAMS);
#define mutex_lock(m) pb_mutex_lock(m, PB_LOC)
#define mutex_unlock(m) ((m)->locked = 0)
#define mutex_is_locked(m) ((m)->locked)
typedef struct { int locked; } spinlock_t;
#define DEFINE_SPINLOCK(n) spinlock_t n = { 0 }
#define spin_lock_init(l) ((l)->locked = 0)
#define spin_lock(l) ((void)(l))
#define spin_unlock(l) ((void)(l))
#define spin_lock_irq(l) ((void)(l))
#define spin_unlock_irq(l) ((void)(l))
#define spin_lock_irqsave(l, f) ((void)(l), (f) = 0)
#define spin_unlock_irqrestore(l, f) ((void)(l), (void)(f))
#define lockdep_off() do { } while (0)
#define lockdep_on() do { } while (0)
#define lockdep_assert_held(l) do { } while (0)

/* wait queues: every completion in the model is synchronous, so a wait that would
 * block is a hang */
typedef struct { int dummy; } wait_queue_head_t;
#define init_waitqueue_head(w) ((void)(w))
#define wake_up(w) ((void)(w))
#define wait_event(wq, cond) do { if (!(cond)) pb_event("__hang_wait", __func__, __LINE__, 0, 0, 0, 0); } while (0)

/* allocation: every call is an "allocation" fault point */
#define GFP_KERNEL 0x1u
#define GFP_ATOMIC 0x2u
#define __GFP_ZERO 0x100u
#define __GFP_NOWARN 0x200u
#define __GFP_RETRY_MAYFAIL 0x400u
#define __GFP_COMP 0x800u
#define __GFP_NORETRY 0x1000u
#define GFP_HIGHUSER 0x2000u
void *pb_kmalloc(size_t size, gfp_t gfp, bool zero, const char *api, PB_LOC_PARAMS);
void pb_kfree(const void *p);
#define kmalloc(s, g) pb_kmalloc(s, g, false, "kmalloc", PB_LOC)
#define kzalloc(s, g) pb_kmalloc(s, g, true, "kzalloc", PB_LOC)
#define kcalloc(n, s, g) pb_kmalloc((n) * (s), g, true, "kcalloc", PB_LOC)
#define kmalloc_array(n, s, g) pb_kmalloc((n) * (s), g, false, "kmalloc_array", PB_LOC)
#define vmalloc(s) pb_kmalloc(s, GFP_KERNEL, false, "vmalloc", PB_LOC)
#define vzalloc(s) pb_kmalloc(s, GFP_KERNEL, true, "vzalloc", PB_LOC)
#define kfree(p) pb_kfree(p)
#define kvfree(p) pb_kfree(p)
#define vfree(p) pb_kfree(p)
char *pb_kstrdup(const char *s, gfp_t gfp, PB_LOC_PARAMS);
#define kstrdup(s, g) pb_kstrdup(s, g, PB_LOC)
#define kstrdup_const(s, g) pb_kstrdup(s, g, PB_LOC)
#define kfree_const(p) pb_kfree(p)

/* bitmaps */
static inline int test_bit(long nr, const unsigned long *addr)
{ return (addr[nr / BITS_PER_LONG] >> (nr % BITS_PER_LONG)) & 1; }
static inline void set_bit(long nr, unsigned long *addr)
{ addr[nr / BITS_PER_LONG] |= 1UL << (nr % BITS_PER_LONG); }
static inline void clear_bit(long nr, unsigned long *addr)
{ addr[nr / BITS_PER_LONG] &= ~(1UL << (nr % BITS_PER_LONG)); }
#define __set_bit set_bit
#define __clear_bit clear_bit
static inline void bitmap_set(unsigned long *m, unsigned int s, unsigned int n)
{ while (n--) set_bit(s++, m); }
static inline void bitmap_clear(unsigned long *m, unsigned int s, unsigned int n)
{ while (n--) clear_bit(s++, m); }
#define __bitmap_set bitmap_set
#define __bitmap_clear bitmap_clear
static inline void bitmap_zero(unsigned long *m, unsigned int n)
{ memset(m, 0, BITS_TO_LONGS(n) * sizeof(long)); }
static inline unsigned long find_next_bit(const unsigned long *m, unsigned long size,
					  unsigned long off)
{ for (; off < size; off++) if (test_bit(off, m)) return off; return size; }
static inline unsigned long find_next_zero_bit(const unsigned long *m, unsigned long size,
					       unsigned long off)
{ for (; off < size; off++) if (!test_bit(off, m)) return off; return size; }
#define find_first_bit(m, size) find_next_bit(m, size, 0)
#define find_first_zero_bit(m, size) find_next_zero_bit(m, size, 0)

/* modules */
struct module;
#define THIS_MODULE ((struct module *)0)
#define module_param(n, t, p)
#define module_param_named(n, v, t, p)
#define MODULE_PARM_DESC(n, d)
#define MODULE_LICENSE(x)
#define MODULE_AUTHOR(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_DEVICE_TABLE(t, n)
#define MODULE_IMPORT_NS(x)
#define module_init(fn) int pb_module_init(void) { return fn(); }
#define module_exit(fn) void pb_module_exit(void) { fn(); }

/* work and timers run synchronously in virtual time (pb_run_pending) */
struct work_struct;
typedef void (*work_func_t)(struct work_struct *);
struct work_struct { work_func_t func; int pending; struct list_head entry; };
struct workqueue_struct { int dummy; };
extern struct workqueue_struct *system_wq, *system_freezable_wq;
#define INIT_WORK(w, f) do { (w)->func = (f); (w)->pending = 0; INIT_LIST_HEAD(&(w)->entry); } while (0)
bool queue_work(struct workqueue_struct *wq, struct work_struct *w);
#define schedule_work(w) queue_work(system_wq, w)
bool cancel_work_sync(struct work_struct *w);
enum hrtimer_restart { HRTIMER_NORESTART, HRTIMER_RESTART };
enum hrtimer_mode { HRTIMER_MODE_REL, HRTIMER_MODE_ABS };
#define CLOCK_MONOTONIC 1
struct hrtimer { enum hrtimer_restart (*function)(struct hrtimer *); int active; s64 expires; };
#define hrtimer_init(t, c, m) do { (t)->active = 0; (t)->function = NULL; } while (0)
/* 6.15+: init and callback in one call (the model's timers run in virtual time, so this
 * is hand-written, never derived from the tree) */
#define hrtimer_setup(t, fn, c, m) do { (t)->active = 0; (t)->function = (fn); } while (0)
void hrtimer_start(struct hrtimer *t, ktime_t delay, enum hrtimer_mode mode);
int hrtimer_cancel(struct hrtimer *t);
#define ms_to_ktime(ms) ((ktime_t)(ms) * 1000000)
/* Run queued work and expired timers until idle; returns -1 if it never settles. */
long pb_run_pending(long max_steps);

#endif
