/* SPDX-License-Identifier: GPL-2.0 */
/*
 * patchbot model bridge: the one way shim code talks to the Python model.
 *
 * Every wrapped kernel API call becomes pb_event("api", __func__, __LINE__, a0..a3).
 * The Python side records it (api, driver function, driver line, args), applies the
 * fault schedule ("fail the Nth call of kind K"), updates the page-state model, checks
 * invariants, and returns the value the API should return (0 or a -errno, or a value).
 */
#ifndef PB_BRIDGE_H
#define PB_BRIDGE_H

typedef long (*pb_handler_t)(const char *api, const char *func, int line,
			     long a0, long a1, long a2, long a3);

long pb_event(const char *api, const char *func, int line,
	      long a0, long a1, long a2, long a3);
void pb_set_handler(pb_handler_t handler);
/* Called by stubs of functions the scenarios should never reach: records then aborts. */
_Noreturn void pb_unimplemented(const char *sym, const char *func, int line);

/* Event from inside the shim, attributed to the caller's function and line. */
#define PB_EV(api, a0, a1, a2, a3) pb_event(api, __pb_func, __pb_line, (long)(a0), \
					     (long)(a1), (long)(a2), (long)(a3))
/* Shim functions that record events take the caller's location as two extra args. */
#define PB_LOC_PARAMS const char *__pb_func, int __pb_line
#define PB_LOC __func__, __LINE__
#define PB_STUB(sym) pb_unimplemented(#sym, __func__, __LINE__)

#endif
