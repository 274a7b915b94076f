"""A buffer made shared with set_memory_decrypted() is DMA-mapped without DMA_ATTR_CC_SHARED.

What it does
------------
In a file that decrypts (shares with the host) memory with set_memory_decrypted() or
dma_set_decrypted(), flags every DMA mapping call of that memory that does not carry the
CC-shared DMA attribute: dma_map_sgtable(), dma_map_sg_attrs(), dma_map_page_attrs(),
dma_map_single_attrs() and dma_map_resource() whose attrs argument lacks DMA_ATTR_CC_SHARED
(the earlier name DMA_ATTR_CC_DECRYPTED is accepted too), and the attr-less
dma_map_sg()/dma_map_page()/dma_map_single(), which cannot carry it at all.

When the attrs argument is a variable, the mapping counts as correct if the function
mentions the attribute anywhere (for example ``attrs |= DMA_ATTR_CC_SHARED``).

Why is this bad?
----------------
The pages were already converted to shared, so the DMA layer has to map them as
unencrypted for the device. Without the attribute it encodes a private (encrypted) DMA
address or bounces through swiotlb, and the device reads or writes the wrong thing.

Example
-------
```c
static int cc_heap_decrypt(struct page *page, unsigned int npages)
{
        return set_memory_decrypted((unsigned long)page_address(page), npages);
}

static struct sg_table *cc_heap_map_dma_buf(struct dma_buf_attachment *attachment,
                                                enum dma_data_direction direction)
{
        struct cc_heap_attachment *a = attachment->priv;
        int ret;

        ret = dma_map_sgtable(attachment->dev, a->table, direction, 0);
        if (ret)
                return ERR_PTR(ret);
        return a->table;
}
```

Use instead
-----------
```c
static int cc_heap_decrypt(struct page *page, unsigned int npages)
{
        return set_memory_decrypted((unsigned long)page_address(page), npages);
}

static struct sg_table *cc_heap_map_dma_buf(struct dma_buf_attachment *attachment,
                                                enum dma_data_direction direction)
{
        struct cc_heap_attachment *a = attachment->priv;
        int ret;

        ret = dma_map_sgtable(attachment->dev, a->table, direction, DMA_ATTR_CC_SHARED);
        if (ret)
                return ERR_PTR(ret);
        return a->table;
}
```

Known false positives
---------------------
The rule assumes every DMA mapping in a file that decrypts memory maps that memory. A file
that decrypts one buffer and DMA-maps an unrelated private one will be flagged; suppress
the finding there. Unmap calls are not checked: whether dma_unmap_*() also needs the
attribute depends on the final DMA API.

References
----------
Jiri Pirko, "[PATCH v5 2/2] dma-buf: heaps: system: add system_cc_shared heap"
(DMA_ATTR_CC_SHARED for already-shared pages); Aneesh Kumar K.V, "[PATCH v5 07/20] dma:
swiotlb: track pool encryption state and honor DMA_ATTR_CC_SHARED".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse import placement

RULE = Rule(
    id="dma-shared-without-attr",
    severity=Severity.WARNING,
    scope="file",
    summary="decrypted (shared) buffer is DMA-mapped without DMA_ATTR_CC_SHARED",
    confidence="heuristic",
    options={"attributes": ["DMA_ATTR_CC_SHARED", "DMA_ATTR_CC_DECRYPTED"]},
)

# mapping call -> index of its attrs argument (None: the call has no attrs argument)
MAP_CALLS: dict[str, int | None] = {
    "dma_map_sgtable": 3,
    "dma_map_sg_attrs": 4,
    "dma_map_page_attrs": 5,
    "dma_map_single_attrs": 4,
    "dma_map_resource": 4,
    "dma_map_sg": None,
    "dma_map_page": None,
    "dma_map_single": None,
}

_MAP_CALL_RE = re.compile(r"\b(?:" + "|".join(MAP_CALLS) + r")\b")


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    text = ctx.file.text
    # "dma_map" first: a cheap substring test spares the \b-led regex most files
    if not placement.mentions_conversion(text) or "dma_map" not in text:
        return
    if not _MAP_CALL_RE.search(text):
        return
    cf = placement.cfile(ctx.file.text)
    decrypts = [
        c for f in cf.functions.values() for c in f.calls if c.name in placement.DECRYPT_CALLS
    ]
    if not decrypts:
        return
    attrs = [str(a) for a in ctx.options.get("attributes", RULE.options["attributes"])]
    attr_re = re.compile(r"\b(" + "|".join(map(re.escape, attrs)) + r")\b")
    shared_where = f"{decrypts[0].name}() in {decrypts[0].function}()"
    for func in cf.functions.values():
        func_mentions_attr = bool(attr_re.search(placement.text_of(func.node)))
        for call in func.calls:
            if call.name not in MAP_CALLS:
                continue
            index = MAP_CALLS[call.name]
            if index is None:
                yield ctx.finding(
                    f"{call.name}() in {func.name}() maps memory this file shares with "
                    f"{shared_where}; {call.name}() cannot pass DMA_ATTR_CC_SHARED, so is the "
                    "device given an encrypted DMA address?",
                    call.line,
                    function=func.name,
                    suggestion=f"use {call.name}_attrs() with DMA_ATTR_CC_SHARED",
                )
                continue
            attr_arg = call.args[index] if index < len(call.args) else "0"
            if attr_re.search(attr_arg):
                continue
            if re.fullmatch(r"[A-Za-z_]\w*(->\w+|\.\w+)*", attr_arg) and func_mentions_attr:
                continue  # attrs variable built with the attribute in this function
            yield ctx.finding(
                f"{call.name}() in {func.name}() maps memory made shared by {shared_where} "
                f"with attrs '{attr_arg}' and no DMA_ATTR_CC_SHARED; does the device get "
                "an encrypted address for shared pages?",
                call.line,
                function=func.name,
                related=[
                    Location(
                        ctx.file.path,
                        decrypts[0].line,
                        function=decrypts[0].function,
                        note="memory made shared here",
                    )
                ],
                suggestion="pass DMA_ATTR_CC_SHARED in the attrs argument",
            )
