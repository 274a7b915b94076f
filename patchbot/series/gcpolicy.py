"""Collect less while building what a run keeps: the series, then the lint's caches.

Reading a series and linting it allocate tens of thousands of objects that live until
the run ends (one DiffLine per diff line, parse trees, per-function analyses) and free
none of them in cycles: on the bench series (40 patches) gc.collect() afterwards finds
nothing.  Every pass of the cyclic collector over them is pure cost, and with CPython's
default young-generation threshold (700) there are dozens.

``fewer_collections(threshold)`` raises that threshold for the duration, and on the way
out files every live object under the oldest generation (gc.freeze() then
gc.unfreeze(): list splices, no scan) before restoring it.  Without that last step the
first allocation after the block would scan everything it built, since the young
generation's count is far above the restored threshold.  A full collection still sees
all of it, so garbage in cycles is never kept for good.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def fewer_collections(threshold: int) -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], threshold), *saved[1:])
    try:
        yield
    finally:
        # a caller that froze objects itself (before forking, say) keeps them frozen
        if gc.get_freeze_count() == 0:
            gc.freeze()  # zeroes the young count too: promote first, then restore the
            gc.unfreeze()  # threshold, or the next allocation scans the young objects
        gc.set_threshold(*saved)
