"""Pages whose conversion failed are freed to the allocator instead of leaked.

What it does
------------
Follows every path out of a private/shared conversion (set_memory_decrypted(),
set_memory_encrypted(), dma_set_{de,en}crypted() and same-file helpers that return their
result) and flags a free of the same memory (__free_pages(), free_pages(), kfree(),
vfree(), dma_free_contiguous(), ... from the API catalogue, and same-file helpers that
free) on a path where

* the conversion is known to have failed (a branch taken only when it returned
  non-zero), or
* a re-encryption with set_memory_encrypted() is not checked before the free
  ("try to make it private again, then free anyway").

A call to a function of the same file that frees file-scope memory without a successful
re-encryption first (``vmbus_disconnect()`` freeing ``vmbus_connection.monitor_pages``)
counts as a free of that memory; a same-file helper that converts its argument and
returns nonzero when that failed counts as the conversion (cparse/helpers.py).

The finding carries the path: the failing call, the branches and gotos taken, any
re-encryption, and the free.

Why is this bad?
----------------
In a confidential-computing guest the untrusted host can make either conversion fail,
and a failed call leaves the pages in an unknown state: a failed set_memory_decrypted()
may have converted them fully to shared, a failed set_memory_encrypted() may leave them
shared. Giving such pages back to the page allocator hands host-visible memory to the
next user, who assumes it is private. Upstream resolved this by leaking: the pages stay
allocated forever. Freeing is only right after a set_memory_encrypted() that succeeded.

Example
-------
```c
static void *demo_alloc_shared(gfp_t gfp)
{
        struct page *page;
        unsigned long addr;

        page = alloc_pages(gfp, 0);
        if (!page)
                return NULL;
        addr = (unsigned long)page_address(page);
        if (set_memory_decrypted(addr, 1)) {
                __free_pages(page, 0);
                return NULL;
        }
        return (void *)addr;
}
```

Use instead
-----------
```c
static void *demo_alloc_shared(gfp_t gfp)
{
        struct page *page;
        unsigned long addr;

        page = alloc_pages(gfp, 0);
        if (!page)
                return NULL;
        addr = (unsigned long)page_address(page);
        if (set_memory_decrypted(addr, 1)) {
                /* the pages may be shared now: leak them */
                return NULL;
        }
        return (void *)addr;
}
```

Known false positives
---------------------
Memory is matched coarsely by the root name of the argument (``addr``, ``page``,
``buf->pages``); a free of a different object that happens to share that name on the
failure path is reported. Conversions whose failure is handled in a caller (the helper
returns the error and the caller frees) are seen only when the helper is in the same
file. Paths through loops are followed, not counted.

References
----------
Rick Edgecombe, "Handle set_memory_XXcrypted() errors" cover letter (2023), which names
the free-after-failed-decrypt and re-encrypt-then-free-anyway patterns; the fixes
dma-direct "Leak pages on dma_set_decrypted() failure" (b9fa16949d18) and the hv/vmbus
leak fixes; swiotlb alloc_dma_pages() (re-encrypt, free only on success).
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Rule, Severity
from patchbot.cparse.coco import file_hits
from patchbot.cparse.paths import PathHit

RULE = Rule(
    id="leak-on-failure",
    severity=Severity.ERROR,
    scope="file",
    summary="pages reach the allocator after a failed set_memory_{en,de}crypted(): leak them",
    confidence="high",
)


def _is_leak(hit: PathHit) -> bool:
    if hit.event.kind != "free":
        return False
    if hit.status == "failed":
        return True
    return hit.current.entry.direction == "encrypt" and hit.status == "unchecked"


def _message(hit: PathHit) -> str:
    free, cur, start = hit.event.name, hit.current.name, hit.start.name
    if hit.status == "failed" and hit.current is hit.start:
        return (
            f"if {cur}() fails, the pages are in an unknown state (possibly shared with "
            f"the host) but {free}() gives them back to the allocator; leak them instead"
        )
    if hit.status == "failed":
        return (
            f"if {cur}() fails to make the pages private again, they are still freed "
            f"by {free}(); leak them when re-encryption fails"
        )
    if hit.current is not hit.start:
        unchecked = (
            f"its result is not checked before {free}(); free the pages only if {cur}() "
            f"succeeds, leak them otherwise"
        )
        if hit.start_status == "failed":
            return f"after {start}() fails, {cur}() is tried but {unchecked}"
        if hit.failed_call:  # the start worked; a later call failed and its unwind converts
            failed = hit.failed_call
            return f"when {failed}() fails, {cur}() converts the pages back but {unchecked}"
        return f"{cur}() converts the pages again but {unchecked}"
    return (
        f"the result of {cur}() is not checked before {free}() frees the pages; if it "
        f"fails they may still be shared: free only on success, leak otherwise"
    )


def _rank(hit: PathHit) -> tuple[int, int]:
    # Prefer a path that starts at a call known to fail: it explains the most.
    return (0 if hit.start_status == "failed" else 1, hit.start.line)


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    best: dict[int, tuple[str | None, PathHit]] = {}
    for func, hit in file_hits(ctx.file.text):
        if not _is_leak(hit):
            continue
        line = hit.event.line
        if line not in best or _rank(hit) < _rank(best[line][1]):
            best[line] = (func.display_name, hit)
    for line in sorted(best):
        name, hit = best[line]
        yield ctx.finding(
            _message(hit),
            line,
            function=name,
            trace=hit.trace(ctx.file.path, name),
            suggestion="leak the pages on failure (return, or goto a label that does not "
            "free), or free only after set_memory_encrypted() succeeded",
        )
