"""Memory is handed back to the host without being converted to shared first.

What it does
------------
Looks at every call that hands memory back to the host (virtio-mem unplug requests:
virtio_mem_send_unplug_request(), virtio_mem_sbm_unplug_sb(),
virtio_mem_bbm_unplug_request(), ... from the API catalogue, and same-file helpers named
for unplugging that call them) and reports it when

* the same range was made private with set_memory_encrypted() earlier on the path and
  not converted back with set_memory_decrypted();
* set_memory_decrypted() of the range failed on the path and it is unplugged anyway
  (its state is unknown);
* the function is CoCo-aware (it converts memory or tests cc_platform_has()), the file
  makes hot-plugged memory private somewhere, and no path to the unplug converts the
  range to shared first (a question: the plug path may have skipped this range);
* the file makes memory private (set_memory_encrypted(), directly or through a helper)
  and unplug paths of onlined memory that never think about CoCo (functions named
  ``*online*``/``*offline*``) hand ranges back without converting them: reported at the
  conversion, with those unplug calls as related locations.  A patch that adds the
  conversion on the plug/online path without touching the unplug functions is reported
  at the line it added.

This is a project design rule, not an upstream-verified fact: the host ABI for the
state of unplugged memory in a CoCo guest is unspecified upstream (virtio-mem has no
CoCo support in 6.1). It encodes the position of the virtio-mem CoCo RFC review: memory
the guest made private is converted back to shared before the host gets it back.

Why is this bad?
----------------
After an unplug the host reuses the backing (QEMU discards it, or re-plugs it later).
A page the guest still considers private keeps its private-side state (TDX Secure-EPT
entry, SNP RMP assignment), so the next plug finds the page in the wrong state; a page
whose conversion failed is in an unknown state. Converting to shared first, and leaking
on failure, keeps the guest's view and the host's in step.

Example
-------
```c
static int demo_unplug_block(struct virtio_mem *vm, unsigned long mb_id,
                             int sb_id, int count)
{
        unsigned long addr = (unsigned long)__va(virtio_mem_mb_id_to_phys(mb_id));
        int rc;

        rc = set_memory_encrypted(addr, count);
        if (rc)
                return rc;
        return virtio_mem_sbm_unplug_sb(vm, mb_id, sb_id, count);
}
```

Use instead
-----------
```c
static int demo_unplug_block(struct virtio_mem *vm, unsigned long mb_id,
                             int sb_id, int count)
{
        unsigned long addr = (unsigned long)__va(virtio_mem_mb_id_to_phys(mb_id));
        int rc;

        rc = set_memory_decrypted(addr, count);
        if (rc)
                return rc;
        return virtio_mem_sbm_unplug_sb(vm, mb_id, sb_id, count);
}
```

Known false positives
---------------------
Ranges are matched by the root name of the argument (``mb_id``, ``addr``). A conversion
done by a caller in another file is not seen. The CoCo-aware check cannot tell that a
range was never made private (e.g. a block that never went online); such unplugs are
reported as questions.  Which unplug paths handle onlined memory is read from function
names (``virtio_mem_sbm_unplug_sb_online()``); clean-up of never-onlined memory is not
cited, and an unplug path named otherwise is missed.  Without ``--tree`` a patch that only
touches the plug path shows no unplug call, so nothing is reported.

References
----------
virtio-mem CoCo RFC review thread ("which state hotunplugged memory must have before
returning it?"); virtio-mem plug/unplug requests (VIRTIO_MEM_REQ_UNPLUG); TDX/SNP page
state after conversions.
"""

from __future__ import annotations

from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse.coco import file_hits, is_cc_aware, mentions_conversion, mentions_kind
from patchbot.cparse.functions import FileAnalysis, Function, MemEvent, analyze_file

MAX_RELATED = 6  # unplug call sites listed with a plug-path finding
# Unplug paths of memory that went online (so may have been made private on the way):
# named so in virtio-mem (virtio_mem_sbm_unplug_sb_online(), ..._any_sb_offline()).
# Unplugs of never-onlined memory (plug failure clean-up) are left alone.
ONLINE_WORDS = ("online", "offline")

RULE = Rule(
    id="decrypt-before-unplug",
    severity=Severity.WARNING,
    scope="file",
    summary="memory handed back to the host (virtio-mem unplug) without set_memory_decrypted()",
    confidence="heuristic",
)


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not mentions_conversion(ctx.file.text) or not mentions_kind(ctx.file.text, "handback"):
        return
    fa = analyze_file(ctx.file.text)
    reported: set[int] = set()
    shared_first: set[int] = set()  # unplug lines some path reaches after a decrypt
    rollback: set[int] = set()  # unplug lines reached after a failed encrypt (plug undo)
    for func, hit in file_hits(ctx.file.text):
        if hit.event.kind != "handback":
            continue
        line, direction = hit.event.line, hit.current.entry.direction
        if direction == "decrypt" and hit.status != "failed":
            shared_first.add(line)
            continue
        if direction == "encrypt" and hit.status == "failed":
            rollback.add(line)
            continue
        if line in reported:
            continue
        reported.add(line)
        if direction == "decrypt":
            message = (
                f"if {hit.current.name}() fails, the range is in an unknown state; "
                f"should {hit.event.name}() still hand it back to the host?"
            )
        else:
            message = (
                f"{hit.current.name}() made this range private; should it be converted "
                f"back with set_memory_decrypted() before {hit.event.name}() hands it "
                f"back to the host?"
            )
        yield ctx.finding(
            message,
            line,
            function=func.display_name,
            trace=hit.trace(ctx.file.path, func.display_name),
        )

    file_encrypts = any(
        e.entry.direction == "encrypt" for f in fa.functions for e in f.events_of("conversion")
    )
    if not file_encrypts:
        return
    unaware: list[tuple[Function, MemEvent]] = []  # hand-backs in CoCo-unaware functions
    for func in fa.functions:
        cc_aware = is_cc_aware(func, fa)
        for event in func.events_of("handback"):
            if event.line in reported | shared_first | rollback:
                continue
            if not cc_aware:
                if any(word in func.name for word in ONLINE_WORDS):
                    unaware.append((func, event))
                continue
            reported.add(event.line)
            yield ctx.finding(
                f"this driver makes plugged memory private, but {func.name}() hands the range "
                f"back to the host with {event.name}() without set_memory_decrypted() on any "
                f"path; is it still private here?",
                event.line,
                function=func.display_name,
            )
    if unaware:
        yield from _report_at_encrypt(ctx, fa, unaware)


def _report_at_encrypt(
    ctx: Context, fa: FileAnalysis, unaware: list[tuple[Function, MemEvent]]
) -> Iterable[Finding]:
    """Report the unplug paths that never convert to shared at the conversion that makes
    memory private: a patch adding set_memory_encrypted() on the plug/online path need not
    touch the unplug functions, and a finding there would not be one the patch introduced.
    """
    assert ctx.file is not None
    # name an unplug of online memory first: the clearest case for the reader
    unaware = sorted(unaware, key=lambda fe: ("_online" not in fe[0].name, fe[1].line))
    first_func, first = unaware[0]
    others = len(unaware) - 1
    where = f"{first.name}() in {first_func.display_name or 'a hunk'}() (line {first.line})"
    more = f" and {others} other unplug call{'s' * (others > 1)}" if others else ""
    related = [
        Location(
            ctx.file.path,
            event.line,
            function=func.display_name,
            note=f"{event.name}() hands the range back to the host",
        )
        for func, event in unaware[:MAX_RELATED]
    ]
    for func in fa.functions:
        conversions = func.events_of("conversion")
        if func.name in fa.summaries or any(e.entry.direction == "decrypt" for e in conversions):
            continue  # a conversion helper (its callers are the plug path), or undo code
        for conv in conversions:
            if conv.entry.direction != "encrypt":
                continue
            yield ctx.finding(
                f"memory made private here by {conv.name}() is handed back to the host by "
                f"{where}{more} without set_memory_decrypted() on any path; should the unplug "
                f"path convert it back to shared first?",
                conv.line,
                function=func.display_name,
                related=related,
            )
