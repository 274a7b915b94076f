/* SPDX-License-Identifier: GPL-2.0 */
/* The C half of the patchbot model bridge (see shim/common/pb_bridge.h). */
#include <stdio.h>
#include <stdlib.h>
#include "pb_bridge.h"

static pb_handler_t pb_handler;

void pb_set_handler(pb_handler_t handler)
{
	pb_handler = handler;
}

long pb_event(const char *api, const char *func, int line,
	      long a0, long a1, long a2, long a3)
{
	if (!pb_handler) {
		fprintf(stderr, "patchbot-shim: event %s before the model was attached\n", api);
		abort();
	}
	return pb_handler(api, func, line, a0, a1, a2, a3);
}

_Noreturn void pb_unimplemented(const char *sym, const char *func, int line)
{
	/* The Python side reports this as a result and ends the run; abort if it returns. */
	pb_event("__unimplemented", func, line, (long)sym, 0, 0, 0);
	fprintf(stderr, "patchbot-shim: %s called from %s:%d is not modelled\n", sym, func, line);
	abort();
}
