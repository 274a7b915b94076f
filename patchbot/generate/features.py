"""What each generated feature and helper is: templates, where they go, which commits.

An Edit places one rendered template in a file by a definition name and a text anchor
(see cfile.py); a Commit groups edits under a subject and a message template; a Feature is
the series.  The templates live in templates/<feature>/ and can be overridden one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edit:
    kind: str  # "before" / "after" a definition, "replace" inside one, "top" level
    template: str
    target: str = ""  # definition name (function, or "struct NAME") for before/after/replace
    anchor: str = ""  # exact text replaced, for replace and top
    when: str = ""  # a parameter that must be non-empty for the edit to apply


@dataclass(frozen=True)
class Commit:
    subject: str
    message: str  # template of the body
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Feature:
    name: str
    summary: str
    path: str  # the one file the series edits
    params: dict[str, str]
    commits: tuple[Commit, ...]
    cover: str  # template of the cover letter body
    cover_subject: str
    # (parameter, header, candidates): the first candidate #defined in the tree's header
    # becomes the parameter's value, "" if none is (the templates then leave it out)
    probes: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # (parameter, function, argument): the argument's type as the target file declares it
    # (placement by parsing: 6.1 and 6.12 spell system_heap_allocate's flags differently)
    arg_types: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Helper:
    name: str
    summary: str
    feature: str  # whose parameters and file it uses
    template: str
    before: str  # inserted before this definition
    needs: tuple[str, ...] = field(default=())  # helpers it calls


VM = "virtio-mem-coco"
VIRTIO_MEM = Feature(
    name=VM,
    summary="virtio-mem CoCo support: private before onlining, shared before unplugging",
    path="drivers/virtio/virtio_mem.c",
    params={
        "prefix": "virtio_mem",
        "vm_type": "struct virtio_mem",
        "cc_attr": "CC_ATTR_GUEST_MEM_ENCRYPT",
    },
    cover_subject="virtio-mem: support CoCo (TDX, SEV-SNP) guests",
    cover=f"{VM}/cover.txt.j2",
    commits=(
        Commit(
            subject="virtio-mem: hand memory back shared before unplugging it",
            message=f"{VM}/0001.msg.j2",
            edits=(
                Edit("top", f"{VM}/includes.c.j2", anchor="#include <linux/log2.h>\n"),
                Edit("before", f"{VM}/convert_range.c.j2", "virtio_mem_sbm_notify_going_online"),
                Edit("before", f"{VM}/walk_plugged.c.j2", "virtio_mem_sbm_notify_going_online"),
                Edit(
                    "replace",
                    f"{VM}/offline.c.j2",
                    "virtio_mem_memory_notifier_cb",
                    "\tcase MEM_OFFLINE:\n\t\tif (vm->in_sbm)\n"
                    "\t\t\tvirtio_mem_sbm_notify_offline(vm, id);\n",
                ),
                Edit(
                    "replace",
                    f"{VM}/unplug_sb.c.j2",
                    "virtio_mem_sbm_unplug_sb",
                    "\tint rc;\n\n\trc = virtio_mem_send_unplug_request(vm, addr, size);\n",
                ),
                Edit(
                    "replace",
                    f"{VM}/unplug_bb.c.j2",
                    "virtio_mem_bbm_unplug_bb",
                    "\tconst uint64_t size = vm->bbm.bb_size;\n\n"
                    "\treturn virtio_mem_send_unplug_request(vm, addr, size);\n",
                ),
                Edit(
                    "replace",
                    f"{VM}/unplug_online_failed.c.j2",
                    "virtio_mem_sbm_unplug_sb_online",
                    "\tif (rc) {\n\t\t/* Return the memory to the buddy. */\n",
                ),
            ),
        ),
        Commit(
            subject="virtio-mem: make plugged memory private before it is onlined",
            message=f"{VM}/0002.msg.j2",
            edits=(
                Edit(
                    "replace",
                    f"{VM}/going_online.c.j2",
                    "virtio_mem_sbm_notify_going_online",
                    "\tcase VIRTIO_MEM_SBM_MB_OFFLINE:\n\t\treturn NOTIFY_OK;\n",
                ),
                Edit(
                    "replace",
                    f"{VM}/going_online_bbm.c.j2",
                    "virtio_mem_memory_notifier_cb",
                    "\t\tif (vm->in_sbm)\n\t\t\trc = virtio_mem_sbm_notify_going_online(vm, id);\n"
                    "\t\tbreak;\n",
                ),
                Edit(
                    "replace",
                    f"{VM}/cancel_online.c.j2",
                    "virtio_mem_memory_notifier_cb",
                    "\tcase MEM_CANCEL_ONLINE:\n\t\tif (!vm->hotplug_active)\n\t\t\tbreak;\n"
                    "\t\tvm->hotplug_active = false;\n",
                ),
                Edit(
                    "replace",
                    f"{VM}/plug_any_sb.c.j2",
                    "virtio_mem_sbm_plug_any_sb",
                    "\t\tnr_pages = PFN_DOWN(count * vm->sbm.sb_size);\n"
                    "\t\tvirtio_mem_fake_online(pfn, nr_pages);\n",
                ),
            ),
        ),
    ),
)

DB = "dma-buf-shared-heap"
_ALLOC_HEAD = (
    "static struct dma_buf *system_heap_allocate(struct dma_heap *heap,\n"
    "\t\t\t\t\t    unsigned long len,\n"
    "\t\t\t\t\t    {{ fd_flags_type }} fd_flags,\n"
    "\t\t\t\t\t    {{ heap_flags_type }} heap_flags)\n"
)
DMA_BUF = Feature(
    name=DB,
    summary="dma-buf heaps: a system_cc_shared heap whose pages are shared with the host",
    path="drivers/dma-buf/heaps/system_heap.c",
    params={
        "prefix": "system_heap",
        "heap_name": "system_cc_shared",
        "heap_prefix": "system_cc_shared_heap",
        "heap_var": "sys_cc_shared_heap",
        "cc_attr": "CC_ATTR_MEM_ENCRYPT",
    },
    probes=(
        (
            "dma_cc_attr",
            "include/linux/dma-mapping.h",
            ("DMA_ATTR_CC_SHARED", "DMA_ATTR_CC_DECRYPTED"),
        ),
    ),
    arg_types=(
        ("fd_flags_type", "system_heap_allocate", "fd_flags"),
        ("heap_flags_type", "system_heap_allocate", "heap_flags"),
    ),
    cover_subject="dma-buf: heaps: a system_cc_shared heap for CoCo guests",
    cover=f"{DB}/cover.txt.j2",
    commits=(
        Commit(
            subject="dma-buf: heaps: system: split the allocation out of system_heap_allocate()",
            message=f"{DB}/0001.msg.j2",
            edits=(
                Edit("replace", f"{DB}/split_head.c.j2", "system_heap_allocate", _ALLOC_HEAD),
                Edit("after", f"{DB}/split_wrapper.c.j2", "system_heap_do_allocate"),
            ),
        ),
        Commit(
            subject="dma-buf: heaps: system: add a system_cc_shared heap for CoCo guests",
            message=f"{DB}/0002.msg.j2",
            edits=(
                Edit("top", f"{DB}/includes_cc.c.j2", anchor="#include <linux/dma-buf.h>\n"),
                Edit(
                    "top",
                    f"{DB}/includes_set_memory.c.j2",
                    anchor="#include <linux/scatterlist.h>\n",
                ),
                Edit("top", f"{DB}/heap_global.c.j2", anchor="static struct dma_heap *sys_heap;\n"),
                Edit(
                    "replace",
                    f"{DB}/buffer_field.c.j2",
                    "struct system_heap_buffer",
                    "\tvoid *vaddr;\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/map_dma_attr.c.j2",
                    "system_heap_map_dma_buf",
                    "{\n\tstruct dma_heap_attachment *a = attachment->priv;\n"
                    "\tstruct sg_table *table = a->table;\n\tint ret;\n\n"
                    "\tret = dma_map_sgtable(attachment->dev, table, direction, 0);\n",
                    when="dma_cc_attr",
                ),
                Edit(
                    "replace",
                    f"{DB}/mmap.c.j2",
                    "system_heap_mmap",
                    "\tint ret;\n\n\tfor_each_sgtable_page(table, &piter, vma->vm_pgoff) {\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/vmap_prot.c.j2",
                    "system_heap_do_vmap",
                    "\tstruct sg_page_iter piter;\n\tvoid *vaddr;\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/vmap_call.c.j2",
                    "system_heap_do_vmap",
                    "\tvaddr = vmap(pages, npages, VM_MAP, PAGE_KERNEL);\n",
                ),
                Edit("before", f"{DB}/free_helpers.c.j2", "system_heap_dma_buf_release"),
                Edit(
                    "replace",
                    f"{DB}/release_decls.c.j2",
                    "system_heap_dma_buf_release",
                    "\tstruct sg_table *table;\n\tstruct scatterlist *sg;\n\tint i;\n\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/release_loop.c.j2",
                    "system_heap_dma_buf_release",
                    "\ttable = &buffer->sg_table;\n\tfor_each_sgtable_sg(table, sg, i) {\n"
                    "\t\tstruct page *page = sg_page(sg);\n\n"
                    "\t\t__free_pages(page, compound_order(page));\n\t}\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/alloc_head.c.j2",
                    "system_heap_do_allocate",
                    "{{ fd_flags_type }} fd_flags)",
                ),
                Edit(
                    "replace",
                    f"{DB}/alloc_decls.c.j2",
                    "system_heap_do_allocate",
                    "\tint i, ret = -ENOMEM;\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/alloc_mark.c.j2",
                    "system_heap_do_allocate",
                    "\tbuffer->len = len;\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/alloc_decrypt.c.j2",
                    "system_heap_do_allocate",
                    "\t/* create the dmabuf */\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/alloc_free.c.j2",
                    "system_heap_do_allocate",
                    "free_pages:\n\tfor_each_sgtable_sg(table, sg, i) {\n"
                    "\t\tstruct page *p = sg_page(sg);\n\n"
                    "\t\t__free_pages(p, compound_order(p));\n\t}\n\tsg_free_table(table);\n",
                ),
                Edit(
                    "replace",
                    f"{DB}/wrapper_call.c.j2",
                    "system_heap_allocate",
                    "\treturn system_heap_do_allocate(heap, len, fd_flags);\n",
                ),
                Edit("before", f"{DB}/shared_heap_ops.c.j2", "system_heap_create"),
                Edit(
                    "replace",
                    f"{DB}/register.c.j2",
                    "system_heap_create",
                    "\t\treturn PTR_ERR(sys_heap);\n\n\treturn 0;\n",
                ),
            ),
        ),
    ),
)

FEATURES = {f.name: f for f in (VIRTIO_MEM, DMA_BUF)}

HELPERS = {
    h.name: h
    for h in (
        Helper(
            "convert-range",
            "convert a physical range to private or shared, only in a CoCo guest",
            VM,
            f"{VM}/convert_range.c.j2",
            "virtio_mem_sbm_notify_going_online",
        ),
        Helper(
            "range-walker",
            "apply one conversion to each run of plugged subblocks of a memory block",
            VM,
            f"{VM}/walk_plugged.c.j2",
            "virtio_mem_sbm_notify_going_online",
            needs=("convert-range",),
        ),
        Helper(
            "heap-free-shared",
            "re-encrypt shared heap pages before freeing them, and leak what stays shared",
            DB,
            f"{DB}/free_helpers.c.j2",
            "system_heap_dma_buf_release",
        ),
    )
}
