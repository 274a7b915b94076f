"""CoCo memory-path facts built on the path queries, shared by the CoCo rules.

Everything is computed once per file text (cached) and filtered by each rule:

* ``file_hits(text)`` — every (function, PathHit) from every conversion in the file;
* ``decrypted_memory(text)`` — memory keys some function of the file decrypts and keeps
  (stores in a struct field, or names through a field), with where: the same-file
  cross-function heuristic behind free-while-shared and shared-mapping-encrypted;
* ``prot_is_decrypted(func, event, catalogue)`` — whether a mapping call's protection
  is built with pgprot_decrypted() (directly, through a local prot variable, or through
  ``vma->vm_page_prot`` set in the same function);
* ``is_cc_aware(func, fa)`` — the function converts memory or tests a CoCo guard;
* ``is_coco_guard(call, catalogue)`` / ``guarded_nodes(func, catalogue)`` — CoCo guard
  calls and the CFG nodes reached only on their CoCo side.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from patchbot.cparse.catalogue import ApiEntry, Catalogue, load_catalogue
from patchbot.cparse.cfg import ENTRY
from patchbot.cparse.exprs import (
    Call,
    as_call,
    assignment_value,
    buffer_key,
    calls_in,
    strip,
    text_of,
)
from patchbot.cparse.functions import (
    FileAnalysis,
    Function,
    MemEvent,
    analyze_file_with,
)
from patchbot.cparse.limits import (
    MAX_FILE_PATH_HITS,
    MAX_FILE_PATH_STATES,
    MAX_FOLLOWED_CONVERSIONS,
    WalkBudget,
    note,
)
from patchbot.cparse.paths import PathHit, follow_conversion
from patchbot.cparse.treedb import entries_for


@dataclass(frozen=True)
class KeptShared:
    key: str  # field name the decrypted memory is kept under
    function: str  # the function that decrypted it
    line: int  # the decrypting call


def mentions_conversion(text: str) -> bool:
    """Cheap pre-check: without a catalogued conversion name no CoCo path exists (wrapper
    summaries are derived from those names too), so the file need not be analysed."""
    return mentions_kind(text, "conversion")


@lru_cache(maxsize=16)
def _kind_names(kinds: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(n for kind in kinds for n in load_catalogue().of_kind(kind)))


def mentions_kind(text: str, *kinds: str) -> bool:
    """Does the text name a catalogued call of one of ``kinds`` ("handback", "mapping"...)
    or a cross-file summary of one (``treedb``)?  Same-file wrappers are summarised from
    those names, so a file naming none of them has no such event: rules skip it before
    any parse."""
    return _mentions_catalogued(text, *kinds) or any(e.kind in kinds for e in entries_for(text))


@lru_cache(maxsize=256)
def _mentions_catalogued(text: str, *kinds: str) -> bool:
    return any(name in text for name in _kind_names(kinds))  # substring search, in C


def file_hits(text: str) -> tuple[tuple[Function, PathHit], ...]:
    return _file_hits(text, entries_for(text))


@lru_cache(maxsize=64)
def _file_hits(text: str, extra: tuple[ApiEntry, ...]) -> tuple[tuple[Function, PathHit], ...]:
    if not mentions_conversion(text):
        return ()
    fa = analyze_file_with(text, extra)
    out: list[tuple[Function, PathHit]] = []
    budget = WalkBudget()  # bounds in limits.py: a file's walks cost bounded time and memory
    for func in fa.functions:
        conversions = func.events_of("conversion")
        if len(conversions) > MAX_FOLLOWED_CONVERSIONS:
            note(
                text,
                f"{func.display_name or 'a function'}: paths followed from the first "
                f"{MAX_FOLLOWED_CONVERSIONS} of its {len(conversions)} conversions only",
            )
        for conv in conversions[:MAX_FOLLOWED_CONVERSIONS]:
            out.extend((func, hit) for hit in follow_conversion(func, conv, budget=budget))
            if budget.exhausted:
                note(
                    text,
                    f"path analysis stopped at {func.display_name or 'a function'} "
                    f"(line {func.start_line}): over {MAX_FILE_PATH_STATES} path states or "
                    f"{MAX_FILE_PATH_HITS} hits in the file",
                )
                return tuple(out)
    return tuple(out)


def _field_assignments(func: Function) -> list[tuple[str, str]]:
    """(field name, value key) for every ``x->field = value`` in the function."""
    out: list[tuple[str, str]] = []
    for cur in func.assignments():
        if cur.type == "assignment_expression":
            left = cur.child_by_field_name("left")
            if left is not None and left.type == "field_expression":
                value = func.key_of(cur.child_by_field_name("right"))
                field = text_of(left.child_by_field_name("field"))
                if value:
                    out.append((field, value))
    return out


def names_a_field(event: MemEvent) -> bool:
    """Is the call's memory argument rooted in a struct field (``priv->buf``)?"""
    node = strip(event.call.arg(event.entry.arg))
    while node is not None and node.type in (
        "call_expression",
        "pointer_expression",
        "subscript_expression",
        "binary_expression",
    ):
        if node.type == "call_expression":
            args = node.child_by_field_name("arguments")
            node = strip(args.named_children[0]) if args and args.named_children else None
        elif node.type == "binary_expression":
            node = strip(node.child_by_field_name("left"))
        else:
            node = strip(node.child_by_field_name("argument"))
    return node is not None and node.type == "field_expression"


def decrypted_memory(text: str) -> dict[str, KeptShared]:
    """Field keys under which some function keeps memory it decrypted successfully."""
    return _decrypted_memory(text, entries_for(text))


@lru_cache(maxsize=64)
def _decrypted_memory(text: str, extra: tuple[ApiEntry, ...]) -> dict[str, KeptShared]:
    if not mentions_conversion(text):
        return {}
    fa = analyze_file_with(text, extra)
    kept: dict[str, KeptShared] = {}
    for func in fa.functions:
        decrypts = [e for e in func.events_of("conversion") if e.entry.direction == "decrypt"]
        if not decrypts:
            continue
        stored = _field_assignments(func)
        for conv in decrypts:
            if conv.key is None:
                continue
            if names_a_field(conv):
                kept.setdefault(conv.key, KeptShared(conv.key, func.name, conv.line))
            for field, value in stored:
                if value == conv.key:
                    kept.setdefault(field, KeptShared(field, func.name, conv.line))
    return kept


def converts_key(func: Function, key: str | None, direction: str) -> bool:
    return any(
        e.key == key and e.entry.direction == direction for e in func.events_of("conversion")
    )


def _assigned_values(func: Function, name: str) -> list[str]:
    """Texts assigned to a local ``name`` or to a ``->name`` field in the function."""
    out: list[str] = []
    for cur, target in zip(func.assignments(), func.assigned_names(), strict=True):
        left = cur.child_by_field_name("left")
        if target is None and left is not None and left.type == "field_expression":
            target = text_of(left.child_by_field_name("field"))
        if target == name:
            out.append(text_of(assignment_value(cur)))
    return out


def prot_is_decrypted(func: Function, event: MemEvent, catalogue: Catalogue) -> bool:
    wrappers = catalogue.pgprot_decrypted

    def mentions(text: str) -> bool:
        return any(w in text for w in wrappers)

    prot = event.call.arg(event.entry.prot) if event.entry.prot >= 0 else None
    if prot is not None:
        if mentions(text_of(prot)):
            return True
        key = buffer_key(prot, through_calls=False)
        if key is not None and any(mentions(v) for v in _assigned_values(func, key)):
            return True
        if key != "vm_page_prot":
            return False
    # no prot argument, or vma->vm_page_prot: the vma's protection must be decrypted
    return any(mentions(v) for v in _assigned_values(func, "vm_page_prot"))


def is_coco_guard(call: Call, catalogue: Catalogue) -> bool:
    """``cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT)`` / ``(CC_ATTR_MEM_ENCRYPT)`` (both
    accepted, MODEL-FACTS 10) or a catalogued CoCo-only predicate (force_dma_unencrypted...)."""
    if call.name in catalogue.guard_predicates:
        return True
    if call.name not in catalogue.guard_functions or not call.args:
        return False
    return text_of(call.args[0]).strip() in catalogue.guard_attributes


def guarded_nodes(func: Function, catalogue: Catalogue) -> set[int]:
    """CFG nodes only reached on the CoCo side of a guard test (true side of
    ``if (cc_platform_has(...))``, false side of ``if (!cc_platform_has(...))``)."""
    guarded_edges: set[tuple[int, int]] = set()
    for node in func.cfg.nodes:
        if node.kind != "cond" or node.ast is None:
            continue
        for edge in node.succ:
            if edge.kind not in ("true", "false"):
                continue
            cond = strip(edge.cond)
            negated = False
            while (
                cond is not None
                and cond.type == "unary_expression"
                and text_of(cond.child_by_field_name("operator")) == "!"
            ):
                negated = not negated
                cond = strip(cond.child_by_field_name("argument"))
            if cond is None:
                continue
            call = as_call(cond)
            if (
                call is not None
                and is_coco_guard(call, catalogue)
                and ((edge.kind == "true") != negated)
            ):
                guarded_edges.add((node.id, edge.dst))
    out: set[int] = set()
    for src, dst in guarded_edges:
        # dominated by the guard edge: reachable through it, not reachable around it
        around = _reachable_without(func, src, dst)
        out |= func.cfg.reachable_from(dst) - around
    return out


def _reachable_without(func: Function, src: int, dst: int) -> set[int]:
    seen = {ENTRY}
    stack = [ENTRY]
    while stack:
        cur = stack.pop()
        for edge in func.cfg.nodes[cur].succ:
            if (cur, edge.dst) == (src, dst) or edge.dst in seen:
                continue
            seen.add(edge.dst)
            stack.append(edge.dst)
    return seen


def is_cc_aware(func: Function, fa: FileAnalysis) -> bool:
    """The function converts memory or tests a CoCo guard."""
    if func.events_of("conversion"):
        return True
    return any(is_coco_guard(c, fa.catalogue) for c in calls_in(func.node))
