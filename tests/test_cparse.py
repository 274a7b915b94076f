"""cparse: normalisation, CFG shape, condition implications, wrapper summaries."""

from __future__ import annotations

import pytest

from patchbot.cparse import (
    EXIT,
    analyze_file,
    error_stats,
    follow_conversion,
    function_spans,
    load_catalogue,
    parse_kernel,
)
from patchbot.cparse.normalize import normalize

KERNEL_STYLE = """\
static int __init __must_check demo_setup(struct demo *d)
{
\tstruct demo_buf *b __free(kfree) = NULL;
\tvoid __iomem *regs;
\tint rc;

\tguard(mutex)(&d->lock);
\tlist_for_each_entry(b, &d->bufs, node) {
\t\tif (unlikely(!b->page))
\t\t\tcontinue;
\t\tif (b->done)
\t\t\tbreak;
\t}
\tscoped_guard(spinlock, &d->slock) {
\t\td->count++;
\t}
\tif (IS_ENABLED(CONFIG_DEMO))
\t\treturn 0;
\tdo {
\t\trc = demo_poke(d);
\t} while (0);
\tswitch (rc) {
\tcase 1:
\t\trc = 2;
\t\tfallthrough;
\tcase 2:
\t\tbreak;
\tdefault:
\t\tgoto out;
\t}
\treturn rc;
out:
\treturn -EIO;
}
"""


def test_normalisation_keeps_length_and_lines() -> None:
    norm = normalize(KERNEL_STYLE)
    assert len(norm.text) == len(KERNEL_STYLE)
    assert norm.text.count("\n") == KERNEL_STYLE.count("\n")
    assert "__free" not in norm.text and "__init" not in norm.text
    assert list(norm.loop_macros.values()) == ["list_for_each_entry"]
    assert len(norm.scoped_guards) == 1


def test_kernel_idioms_parse_without_errors() -> None:
    assert error_stats(KERNEL_STYLE, normalized=False)[0] > 0  # raw tree-sitter stumbles
    assert error_stats(KERNEL_STYLE) == (0, 0)
    assert [s.name for s in function_spans(KERNEL_STYLE)] == ["demo_setup"]


def test_cfg_shapes_loops_switch_goto() -> None:
    (func,) = analyze_file(KERNEL_STYLE).functions
    cfg = func.cfg
    loop = next(n for n in cfg.nodes if n.label == "list_for_each_entry")
    assert loop.line == 8
    assert {e.kind for e in loop.succ} == {"true", "false"}
    assert any(e.kind == "back" for n in cfg.nodes for e in n.succ if e.dst == loop.id)
    # the continue at line 10 goes back to the loop head, the break leaves the loop
    cont = next(n for n in cfg.nodes if n.kind == "continue")
    assert [e.dst for e in cont.succ] == [loop.id]
    # scoped_guard always runs its body: no true/false edges on it
    guard = next(n for n in cfg.nodes if n.label == "scoped_guard")
    assert [e.kind for e in guard.succ] == ["flow"]
    # do { } while (0) has no back edge
    dowhile = next(n for n in cfg.nodes if n.label == "do-while")
    assert [e.kind for e in dowhile.succ] == ["false"]
    # case 1 falls through into case 2; default jumps to out:
    case1 = next(n for n in cfg.nodes if n.label == "case 1")
    case2 = next(n for n in cfg.nodes if n.label == "case 2")
    assert case2.id in cfg.reachable_from(case1.id)
    label = next(n for n in cfg.nodes if n.kind == "label")
    goto = next(n for n in cfg.nodes if n.kind == "goto")
    assert [e.dst for e in goto.succ] == [label.id]
    assert EXIT in cfg.reachable_from(label.id)


CONDITIONS = """\
static void f(unsigned long addr)
{
\tint rc, ret;

\trc = set_memory_decrypted(addr, 1);
\tif (%s)
\t\tfree_pages(addr, 0);
}
"""


@pytest.mark.parametrize(
    ("cond", "status"),
    [
        ("rc", "failed"),
        ("!rc", "ok"),
        ("rc < 0", "failed"),
        ("rc != 0", "failed"),
        ("rc == 0", "ok"),
        ("unlikely(rc)", "failed"),
        ("WARN_ON(rc)", "failed"),
        ("rc && addr", "failed"),
        ("!(rc || addr)", "ok"),
        ("addr", "unchecked"),
    ],
)
def test_branch_conditions_tell_the_outcome(cond: str, status: str) -> None:
    (func,) = analyze_file(CONDITIONS % cond).functions
    conv = func.events_of("conversion")[0]
    hits = [h for h in follow_conversion(func, conv) if h.event.kind == "free"]
    assert [h.status for h in hits] == [status]


def test_inline_call_condition_and_reassignment() -> None:
    src = """\
static void g(struct page *page)
{
\tvoid *va = page_address(page);
\tint ret;

\tif (WARN_ON_ONCE(set_memory_encrypted((unsigned long)va, 1)))
\t\treturn;
\tret = other_call();
\tif (ret)
\t\treturn;
\t__free_pages(page, 0);
}
"""
    (func,) = analyze_file(src).functions
    conv = func.events_of("conversion")[0]
    assert conv.key == func.resolve("page")  # va and page are merged
    hits = [h for h in follow_conversion(func, conv) if h.event.kind == "free"]
    assert [(h.event.line, h.status) for h in hits] == [(11, "ok")]


def test_wrapper_summaries_reach_a_fixed_point() -> None:
    src = """\
static int demo_set_shared(u64 addr, u64 size)
{
\treturn set_memory_decrypted((unsigned long)__va(addr), PFN_DOWN(size));
}

static int demo_share_block(struct demo *d, u64 start)
{
\tint rc;

\trc = demo_set_shared(start, d->size);
\treturn rc;
}

static void demo_release_block(struct demo *d, u64 start)
{
\tdemo_send_unplug(d, start);
}

static int demo_not_a_wrapper(struct demo *d, u64 start)
{
\tint rc = demo_set_shared(start, d->size);

\tif (rc)
\t\treturn rc;
\treturn demo_other(d);
}
"""
    catalogue = load_catalogue()
    assert catalogue.get("set_memory_decrypted").direction == "decrypt"
    fa = analyze_file(src)
    assert fa.summaries["demo_set_shared"].direction == "decrypt"
    assert fa.summaries["demo_set_shared"].arg == 0
    assert fa.summaries["demo_share_block"].wrapper_of == "demo_set_shared"
    assert fa.summaries["demo_share_block"].arg == 1
    assert "demo_not_a_wrapper" not in fa.summaries
    assert "demo_release_block" not in fa.summaries  # demo_send_unplug is not catalogued


def test_partial_function_without_closing_brace() -> None:
    src = """\
static void h(unsigned long addr)
{
\tif (set_memory_decrypted(addr, 1))
\t\tfree_pages(addr, 0);
"""
    (func,) = analyze_file(src).functions
    conv = func.events_of("conversion")[0]
    hits = [h for h in follow_conversion(func, conv) if h.event.kind == "free"]
    assert [(h.event.line, h.status) for h in hits] == [(4, "failed")]


@pytest.mark.kernel_tree
@pytest.mark.parametrize(
    ("path", "max_error_lines"),
    [("drivers/virtio/virtio_mem.c", 10), ("kernel/dma/direct.c", 0), ("drivers/hv/channel.c", 0)],
)
def test_real_files_parse_cleanly(kernel_tree, path: str, max_error_lines: int) -> None:
    text = (kernel_tree / path).read_text()
    raw = error_stats(text, normalized=False)[1]
    normalised = error_stats(text)[1]
    assert normalised <= max_error_lines
    assert normalised < raw  # normalisation must earn its keep on every one of them
    assert parse_kernel(text).root_node.end_point[0] >= text.count("\n") - 1


@pytest.mark.kernel_tree
def test_real_direct_c_summaries(kernel_tree) -> None:
    fa = analyze_file((kernel_tree / "kernel/dma/direct.c").read_text())
    # __dma_direct_free_pages() is catalogued; dma_direct_free() wraps it (by dma_addr)
    wrapper = fa.summaries["dma_direct_free"]
    assert (wrapper.kind, wrapper.arg, wrapper.wrapper_of) == ("free", 3, "__dma_direct_free_pages")
    alloc = fa.function("dma_direct_alloc_pages")
    assert alloc is not None
    conv = alloc.events_of("conversion")[0]
    assert conv.name == "dma_set_decrypted"
    # 6.1 leaks on failure (goto out_leak_pages): no free is reachable when it fails
    assert not [
        h for h in follow_conversion(alloc, conv) if h.event.kind == "free" and h.status == "failed"
    ]


def test_headless_hunk_body_becomes_a_fragment() -> None:
    # What a diff hunk starting inside a function leaves: blank lines, then the body.
    body = "\n".join(
        [
            "\tvaddr = page_address(page);",
            "\tif (set_memory_decrypted((unsigned long)vaddr, 1))",
            "\t\tgoto out_free;",
            "\treturn vaddr;",
            "out_free:",
            "\t__free_page(page);",
            "\treturn NULL;",
            "}",
        ]
    )
    text = "\n" * 40 + body + "\n"
    (func,) = analyze_file(text).functions
    assert func.display_name is None
    assert func.start_line == 40  # the synthetic header sits on the blank line before
    conv = func.events_of("conversion")[0]
    assert conv.line == 42
    (hit,) = [h for h in follow_conversion(func, conv) if h.event.kind == "free"]
    assert (hit.event.line, hit.status) == (46, "failed")


def test_free_attribute_frees_on_return_until_handed_out() -> None:
    src = """\
static int k(struct demo *d)
{
\tvoid *buf __free(kfree) = kzalloc(64, GFP_KERNEL);

\tif (set_memory_decrypted((unsigned long)buf, 1))
\t\treturn -EIO;
\td->buf = no_free_ptr(buf);
\treturn 0;
}
"""
    (func,) = analyze_file(src).functions
    assert func.cleanups == [("buf", "kfree", 3)]
    conv = func.events_of("conversion")[0]
    seen = {(h.event.kind, h.event.line, h.status) for h in follow_conversion(func, conv)}
    assert ("free", 6, "failed") in seen
    assert ("transfer", 7, "ok") in seen
    assert not any(kind == "free" and line == 8 for kind, line, _s in seen)


def test_each_call_belongs_to_exactly_one_cfg_node() -> None:
    src = """\
static void f(unsigned long addr)
{
\tdo {
\t\tif (set_memory_decrypted(addr, 1))
\t\t\tbreak;
\t} while (retry());
\tswitch (mode) {
\tcase 1:
\t\tset_memory_encrypted(addr, 1);
\t\tbreak;
\t}
\tfor (;;) {
\t\tfree_pages(addr, 0);
\t}
}
"""
    (func,) = analyze_file(src).functions
    assert [(e.name, e.line, func.cfg.nodes[e.node].kind) for e in func.events] == [
        ("set_memory_decrypted", 4, "cond"),
        ("set_memory_encrypted", 9, "stmt"),
        ("free_pages", 13, "stmt"),
    ]
    do_head = next(n for n in func.cfg.nodes if n.label == "do")
    assert do_head.line == 3


def test_loop_rollback_is_reached_only_when_the_conversion_failed() -> None:
    src = """\
static int share_all(struct page **pages, int n)
{
\tint i, rc;

\tfor (i = 0; i < n; i++) {
\t\trc = set_memory_decrypted((unsigned long)page_address(pages[i]), 1);
\t\tif (rc)
\t\t\tbreak;
\t}
\tif (!rc)
\t\treturn 0;
\twhile (i--)
\t\tset_memory_encrypted((unsigned long)page_address(pages[i]), 1);
\treturn rc;
}
"""
    (func,) = analyze_file(src).functions
    conv = func.events_of("conversion")[0]
    hits = [h for h in follow_conversion(func, conv) if h.event.kind == "conversion"]
    # the re-encrypt loop runs only on paths where some iteration's call failed
    assert {(h.event.line, h.status, h.start_status) for h in hits} == {(13, "failed", "failed")}


def test_coco_guards_accept_both_attributes() -> None:
    from patchbot.cparse.coco import guarded_nodes, is_coco_guard

    src = """\
static void g(struct demo *d)
{
\tif (!cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
\t\treturn;
\tdemo_share(d);
}

static void h(struct demo *d)
{
\tif (cc_platform_has(CC_ATTR_MEM_ENCRYPT))
\t\tdemo_share(d);
\tif (cc_platform_has(CC_ATTR_HOST_MEM_ENCRYPT))
\t\tdemo_other(d);
}
"""
    fa = analyze_file(src)
    g, h = fa.functions
    calls = {c.name: c for _n, c in h.calls() if c.name == "cc_platform_has"}
    assert len(calls) == 1  # dict keeps the last: the HOST attribute is not a guest guard
    assert not is_coco_guard(calls["cc_platform_has"], fa.catalogue)
    lines_g = {g.cfg.nodes[n].line for n in guarded_nodes(g, fa.catalogue)}
    lines_h = {h.cfg.nodes[n].line for n in guarded_nodes(h, fa.catalogue)}
    assert 5 in lines_g and 4 not in lines_g
    assert 11 in lines_h and 13 not in lines_h
