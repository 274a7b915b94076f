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

FEATURES = {f.name: f for f in (VIRTIO_MEM,)}

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
    )
}
