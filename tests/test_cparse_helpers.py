"""Derived helper summaries (cparse.helpers): failing static helpers and teardowns that
free file-scope memory, seen by their callers in the same file.  Our own kernel-style
snippets, no kernel code."""

from __future__ import annotations

from patchbot.api import SourceFile
from patchbot.cparse import analyze_file, follow_conversion, treedb

FAILING_HELPER = """\
static int demo_share(struct demo *d, void *buf, u32 size)
{
\tint ret = set_memory_decrypted((unsigned long)buf, PFN_UP(size));

\tif (ret)
\t\treturn ret;
\tret = demo_post(d);
\tif (ret)
\t\tset_memory_encrypted((unsigned long)buf, PFN_UP(size));
\treturn ret;
}

static int demo_open(struct demo *d)
{
\tvoid *buf = vzalloc(SZ_64K);

\tif (demo_share(d, buf, SZ_64K)) {
\t\tvfree(buf);
\t\treturn -EIO;
\t}
\td->buf = buf;
\treturn 0;
}

int demo_export(struct demo *d, void *buf)
{
\treturn demo_share(d, buf, SZ_4K);
}
"""

TEARDOWN = """\
static struct { void *page; void *spare; } demo_conn;

static void demo_teardown(void)
{
\tset_memory_encrypted((unsigned long)demo_conn.page, 1);
\tfree_page((unsigned long)demo_conn.page);
\tfree_page((unsigned long)demo_conn.spare);
}

static void demo_teardown_checked(void)
{
\tif (!set_memory_encrypted((unsigned long)demo_conn.page, 1))
\t\tfree_page((unsigned long)demo_conn.page);
}

static void demo_put(void *page)
{
\tfree_page((unsigned long)page);
}

static void demo_local(void)
{
\tvoid *page = (void *)__get_free_page(GFP_KERNEL);

\tfree_page((unsigned long)page);
}

static void demo_users(void *page)
{
\tdemo_teardown();
\tdemo_teardown_checked();
\tdemo_put(page);
\tdemo_local();
}
"""


def _statuses(text: str, name: str) -> list[tuple[str, str]]:
    func = analyze_file(text).function(name)
    assert func is not None
    return [
        (hit.event.name, hit.status)
        for conv in func.events_of("conversion")
        for hit in follow_conversion(func, conv)
    ]


def test_static_failing_helper_is_a_conversion_for_its_caller() -> None:
    fa = analyze_file(FAILING_HELPER)
    entry = fa.helpers["demo_share"]
    assert (entry.kind, entry.arg, entry.direction) == ("conversion", 1, "decrypt")
    assert "demo_share" not in fa.summaries  # not a pure wrapper
    assert ("vfree", "failed") in _statuses(FAILING_HELPER, "demo_open")


def test_exported_wrapper_of_a_static_failing_helper_reaches_other_files() -> None:
    db = treedb.build([SourceFile(path="demo/share.c", text=FAILING_HELPER)])
    assert set(db.entries) == {"demo_export"}  # demo_share is static: it stays in its file
    assert db.entries["demo_export"].arg == 1


def test_teardown_freeing_file_scope_memory_is_a_release() -> None:
    fa = analyze_file(TEARDOWN)
    entry = fa.helpers["demo_teardown"]
    assert entry.kind == "free"
    assert set(entry.frees_keys) == {"page", "spare"}
    # frees only after a successful re-encryption: not a release
    assert "demo_teardown_checked" not in fa.helpers
    # a parameter's or a local's memory is not file-scope memory
    assert "demo_put" not in fa.helpers
    assert "demo_local" not in fa.helpers
    # only a function some caller in the file uses is summarised
    uncalled = TEARDOWN.replace("\tdemo_teardown();\n", "")
    assert "demo_teardown" not in analyze_file(uncalled).helpers


def test_failed_conversion_then_release_call_is_a_free() -> None:
    caller = (
        TEARDOWN
        + """
static int demo_setup(void)
{
\tdemo_conn.page = (void *)__get_free_page(GFP_KERNEL);
\tif (set_memory_decrypted((unsigned long)demo_conn.page, 1))
\t\tgoto out;
\treturn 0;
out:
\tdemo_teardown();
\treturn -EIO;
}

static int demo_setup_forget(void)
{
\tdemo_conn.page = (void *)__get_free_page(GFP_KERNEL);
\tif (set_memory_decrypted((unsigned long)demo_conn.page, 1)) {
\t\tdemo_conn.page = NULL;
\t\tgoto out;
\t}
\treturn 0;
out:
\tdemo_teardown();
\treturn -EIO;
}
"""
    )
    assert ("demo_teardown", "failed") in _statuses(caller, "demo_setup")
    assert _statuses(caller, "demo_setup_forget") == []


def test_release_summaries_stay_in_their_file() -> None:
    text = TEARDOWN.replace("static void demo_teardown(void)", "void demo_teardown(void)")
    db = treedb.build([SourceFile(path="demo/conn.c", text=text)])
    assert "demo_teardown" not in db.entries


def test_helper_converting_a_field_is_no_conversion_of_the_struct() -> None:
    """An exported open that hands ``chan->ring`` to a failing helper does not convert
    ``chan``: its callers' kfree(chan) frees the struct, not the shared pages."""
    text = FAILING_HELPER + (
        "\nint demo_chan_open(struct demo *chan)\n{\n"
        "\tint err = demo_share(chan, page_address(chan->ring), SZ_4K);\n\n"
        "\tif (err)\n\t\treturn err;\n\treturn demo_start(chan);\n}\n"
    )
    db = treedb.build([SourceFile(path="demo/share.c", text=text)])
    assert "demo_chan_open" not in db.entries
    assert "demo_export" in db.entries
