"""Which object a path is about (cparse.objects) and the cross-file database (treedb,
treestore): our own kernel-style snippets, no kernel code."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbot.api import SourceFile
from patchbot.cparse import analyze_file, follow_conversion, parse, treedb
from patchbot.cparse.objects import flag_truth, memory_lvalue, update_flags


def _hits(text: str, name: str) -> list[tuple[str, int, str]]:
    func = analyze_file(text).function(name)
    assert func is not None
    return [
        (hit.event.name, hit.event.line, hit.status)
        for conv in func.events_of("conversion")
        for hit in follow_conversion(func, conv)
    ]


def _cond(expr: str):
    tree = parse(f"int f(void) {{ if ({expr}) return 1; return 0; }}")
    body = tree.root_node.children[0].child_by_field_name("body")
    assert body is not None
    return body.named_children[0].child_by_field_name("condition")


@pytest.mark.parametrize(
    ("expr", "flags", "truth"),
    [
        ("leak", {"leak": True}, True),
        ("!leak", {"leak": True}, False),
        ("!ring->leaked", {"ring->leaked": True}, False),
        ("leak == false", {"leak": True}, False),
        ("!a && !b", {"a": True}, False),
        ("a || other", {"a": True}, True),
        ("other", {"leak": True}, None),
    ],
)
def test_flag_truth(expr: str, flags: dict[str, bool], truth: bool | None) -> None:
    assert flag_truth(_cond(expr), update_flags(frozenset(), flags.items())) is truth


def test_cleared_pointer_ends_the_failed_path() -> None:
    text = """
static void demo_put(struct demo *d)
{
	if (set_memory_encrypted((unsigned long)d->page, 1))
		d->page = NULL;
	free_page((unsigned long)d->page);
}
"""
    func = analyze_file(text).function("demo_put")
    assert func is not None
    conv = func.events_of("conversion")[0]
    assert memory_lvalue(conv) == "d->page"
    statuses = {status for _name, _line, status in _hits(text, "demo_put")}
    assert statuses == {"ok"}  # the failed path forgot the page before the free


def test_new_object_per_iteration_ends_the_path() -> None:
    text = """
static int demo_all(void)
{
	int cpu;

	for_each_online_cpu(cpu) {
		struct demo *d = per_cpu_ptr(demo_ctx, cpu);

		free_page((unsigned long)d->spare);
		if (set_memory_decrypted((unsigned long)d->spare, 1))
			return -EIO;
	}
	return 0;
}
"""
    assert _hits(text, "demo_all") == []  # the next iteration's d->spare is another page


def test_rc_below_zero_false_is_not_success() -> None:
    text = """
static void demo_free(void *va)
{
	if (set_memory_encrypted((unsigned long)va, 1) < 0)
		return;
	free_page((unsigned long)va);
}
"""
    assert _hits(text, "demo_free") == [("free_page", 6, "unchecked")]


def test_short_circuit_false_side_means_success() -> None:
    text = """
static void demo_free(struct demo *d)
{
	if (d->shared && set_memory_encrypted((unsigned long)d->va, 1))
		return;
	free_page((unsigned long)d->va);
}
"""
    assert _hits(text, "demo_free") == [("free_page", 6, "ok")]


_HELPER = """
int demo_share(struct demo_chan *c, void *buf, u32 size)
{
	int ret = set_memory_decrypted((unsigned long)buf, PFN_UP(size));

	if (ret)
		return ret;
	return demo_post(c, buf);
}

static int demo_local(void *buf)
{
	if (set_memory_decrypted((unsigned long)buf, 1))
		return -EIO;
	return 0;
}
"""


def test_treedb_summarises_exported_helpers_only() -> None:
    db = treedb.build([SourceFile(path="bus.c", text=_HELPER)])
    assert set(db.entries) == {"demo_share"}
    entry = db.entries["demo_share"]
    assert (entry.kind, entry.arg, entry.direction) == ("conversion", 1, "decrypt")
    assert db.where == {"demo_share": "bus.c"}


def test_treedb_entries_reach_a_caller_in_another_file() -> None:
    caller = """
static int demo_init(struct demo_chan *c)
{
	void *buf = vzalloc(SZ_64K);

	if (demo_share(c, buf, SZ_64K)) {
		vfree(buf);
		return -EIO;
	}
	return 0;
}
"""
    assert _hits(caller, "demo_init") == []  # no database: the helper is unknown
    db = treedb.build(
        [SourceFile(path="bus.c", text=_HELPER), SourceFile(path="net.c", text=caller)]
    )
    with treedb.active(db):
        assert _hits(caller, "demo_init") == [("vfree", 7, "failed")]
    assert treedb.current().entries == {}


def test_treedb_overlay_replaces_a_patched_file() -> None:
    old = treedb.build([SourceFile(path="bus.c", text=_HELPER)])
    patched = _HELPER.replace("int demo_share(", "static int demo_share(")
    new = treedb.build([SourceFile(path="bus.c", text=patched)])
    assert old.overlaid(new, ["bus.c"]).entries == {}


def test_treestore_builds_once_and_reloads(tmp_path: Path, monkeypatch) -> None:
    from patchbot.cparse import treestore

    monkeypatch.setenv("PATCHBOT_CACHE", str(tmp_path / "cache"))
    tree = tmp_path / "tree"
    (tree / "drivers" / "bus").mkdir(parents=True)
    (tree / "drivers" / "bus" / "bus.c").write_text(_HELPER)
    (tree / "drivers" / "bus" / "other.c").write_text("int x(void) { return 0; }\n")
    first = treestore.for_tree(tree)
    assert set(first.entries) == {"demo_share"}
    store = treestore._store(tree)
    assert store.is_file()
    assert treestore.for_tree(tree).entries == first.entries  # from the store
    (tree / "drivers" / "bus" / "bus.c").write_text(
        _HELPER.replace("int demo_share(", "static int demo_share(")
    )
    assert treestore.for_tree(tree).entries == {}  # a changed file rebuilds


def test_hunk_inside_one_body_is_analysed() -> None:
    """Class 4: a hunk-only body that parses without an ERROR node still gets a header."""
    from patchbot.testing import check_expected_patch

    fixture = Path(__file__).parent / "fixtures/coco_independent/hunks/inside-one-body.patch"
    check_expected_patch(fixture)


def test_hunk_ending_inside_a_comment_does_not_hide_the_next_hunk() -> None:
    """Without a tree, a hunk whose context stops after ``/*`` is closed on the blank line
    that follows it (the reversed Hyper-V fix 03f5a999adba: vmbus_disconnect() unseen)."""
    from patchbot.testing import check_expected_patch

    fixture = Path(__file__).parent / "fixtures/coco_independent/hunks/comment-at-hunk-end.patch"
    check_expected_patch(fixture)
