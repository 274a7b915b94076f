// SPDX-License-Identifier: GPL-2.0
/* patchbot shim: allocation, work, timers, locks, pages and conversions for the model. */
#include <stdio.h>
#include <sys/mman.h>
#include "pb_mm.h"

struct page pb_memmap[PB_MEMMAP_PAGES];
char *pb_direct_map;
static struct workqueue_struct pb_wq;
struct workqueue_struct *system_wq = &pb_wq, *system_freezable_wq = &pb_wq;
static LIST_HEAD(pb_pending_work);
#define PB_MAX_TIMERS 16
static struct hrtimer *pb_timers[PB_MAX_TIMERS];
static s64 pb_now;

__attribute__((constructor)) static void pb_map_direct(void)
{
	/* lazily backed: only pages a driver touches cost memory */
	pb_direct_map = mmap(NULL, PB_MEMMAP_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pb_direct_map == MAP_FAILED)
		abort();
}

struct page *pb_pfn_to_page(unsigned long pfn)
{
	if (!pfn_valid(pfn)) {
		pb_event("__bad_pfn", __func__, __LINE__, (long)pfn, 0, 0, 0);
		abort();
	}
	return &pb_memmap[pfn - PB_MEMMAP_BASE_PFN];
}

long pb_warn(const char *cond, PB_LOC_PARAMS)
{
	return PB_EV("WARN_ON", cond, 0, 0, 0);
}

void pb_mutex_lock(struct mutex *m, PB_LOC_PARAMS)
{
	if (m->locked)
		PB_EV("__deadlock", m, 0, 0, 0);
	m->locked = 1;
}

void *pb_kmalloc(size_t size, gfp_t gfp, bool zero, const char *api, PB_LOC_PARAMS)
{
	/* the handler returns non-zero when the fault schedule fails this allocation */
	if (PB_EV(api, size, gfp, 0, 0))
		return NULL;
	return zero ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
}

void pb_kfree(const void *p)
{
	free((void *)p);
}

char *pb_kstrdup(const char *s, gfp_t gfp, PB_LOC_PARAMS)
{
	char *d;

	if (!s)
		return NULL;
	d = pb_kmalloc(strlen(s) + 1, gfp, false, "kstrdup", __pb_func, __pb_line);
	return d ? strcpy(d, s) : NULL;
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *w)
{
	if (w->pending)
		return false;
	w->pending = 1;
	list_add_tail(&w->entry, &pb_pending_work);
	return true;
}

bool cancel_work_sync(struct work_struct *w)
{
	if (!w->pending)
		return false;
	list_del(&w->entry);
	w->pending = 0;
	return true;
}

void hrtimer_start(struct hrtimer *t, ktime_t delay, enum hrtimer_mode mode)
{
	int i, free_slot = -1;

	t->expires = mode == HRTIMER_MODE_REL ? pb_now + delay : delay;
	t->active = 1;
	for (i = 0; i < PB_MAX_TIMERS; i++) {
		if (pb_timers[i] == t)
			return;
		if (!pb_timers[i] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		abort();
	pb_timers[free_slot] = t;
}

int hrtimer_cancel(struct hrtimer *t)
{
	int i, was = t->active;

	t->active = 0;
	for (i = 0; i < PB_MAX_TIMERS; i++)
		if (pb_timers[i] == t)
			pb_timers[i] = NULL;
	return was;
}

long pb_run_pending(long max_steps)
{
	long steps = 0;

	while (steps < max_steps) {
		struct hrtimer *next = NULL;
		int i, slot = -1;

		if (!list_empty(&pb_pending_work)) {
			struct work_struct *w = list_first_entry(&pb_pending_work,
								 struct work_struct, entry);
			list_del(&w->entry);
			w->pending = 0;
			w->func(w);
			steps++;
			continue;
		}
		for (i = 0; i < PB_MAX_TIMERS; i++)
			if (pb_timers[i] && (!next || pb_timers[i]->expires < next->expires)) {
				next = pb_timers[i];
				slot = i;
			}
		if (!next)
			return steps;
		pb_timers[slot] = NULL;
		next->active = 0;
		if (next->expires > pb_now)
			pb_now = next->expires;  /* virtual time jumps to the next expiry */
		if (next->function(next) == HRTIMER_RESTART)
			hrtimer_start(next, 0, HRTIMER_MODE_REL);
		steps++;
	}
	return -1;
}

int pb_alloc_contig_range(unsigned long start, unsigned long end, unsigned int mt, gfp_t gfp,
			  PB_LOC_PARAMS)
{
	unsigned long pfn;
	int rc = (int)PB_EV("alloc_contig_range", start, end - start, mt, gfp);

	/* allocated pages carry one reference, like any page the buddy hands out */
	if (!rc)
		for (pfn = start; pfn < end; pfn++)
			set_page_count(pfn_to_page(pfn), 1);
	return rc;
}

static void pb_pages_freed(unsigned long pfn, unsigned long nr)
{
	while (nr--)
		set_page_count(pfn_to_page(pfn++), 0);
}

void pb_free_contig_range(unsigned long pfn, unsigned long nr, PB_LOC_PARAMS)
{
	PB_EV("free_contig_range", pfn, nr, 0, 0);
	pb_pages_freed(pfn, nr);
}

void pb_generic_online_page(struct page *page, unsigned int order, PB_LOC_PARAMS)
{
	unsigned long i;

	PB_EV("generic_online_page", page_to_pfn(page), 1UL << order, 0, 0);
	pb_pages_freed(page_to_pfn(page), 1UL << order);
	for (i = 0; i < 1UL << order; i++)  /* __free_pages_core(MEMINIT_HOTPLUG) */
		__ClearPageOffline(page + i);
}

void pb_default_online_page(struct page *page, unsigned int order)
{
	pb_generic_online_page(page, order, "pb_default_online_page", 0);
}

int pb_set_memory_crypt(unsigned long addr, int numpages, int enc, PB_LOC_PARAMS)
{
	unsigned long pfn = virt_to_pfn((void *)addr);

	return (int)PB_EV(enc ? "set_memory_encrypted" : "set_memory_decrypted",
			  pfn, numpages, 0, 0);
}

bool pb_cc_platform_has(enum cc_attr attr, PB_LOC_PARAMS)
{
	return PB_EV("cc_platform_has", attr, 0, 0, 0) != 0;
}
