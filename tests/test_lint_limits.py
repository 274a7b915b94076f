"""Issue 16, lint on hostile input: each shape that stalled or crashed lint, linted with
every bundled rule under the engine's default CPU budget.  A shape that is still slow
shows up as an internal/timeout finding (the budget is 8 s per rule run, far above what
each shape costs after its fix); a crash shows up in result.errors."""

from __future__ import annotations

from pathlib import Path

import hostile_inputs as hostile

from patchbot.api import SourceFile
from patchbot.config import Config
from patchbot.engine import Engine, LintResult, load_rules, select_rules
from patchbot.engine.runner import TIMEOUT_RULE
from patchbot.series.images import source_files
from patchbot.series.load import load_series


def _engine() -> Engine:
    config = Config()
    return Engine(select_rules(load_rules([]), config), config)


def lint_c(text: str, path: str = "drivers/misc/demo_coco.c") -> LintResult:
    return _engine().lint_files([SourceFile(path, text)])


def lint_mbox(tmp_path: Path, text: str, tree: Path | None = None) -> LintResult:
    mail = tmp_path / "series.mbox"
    mail.write_text(text)
    series = load_series([str(mail)], tree=str(tree) if tree else None)
    return _engine().lint_series(series, source_files)


def assert_bounded(result: LintResult) -> None:
    assert not result.errors, result.errors
    timeouts = [f.message for f in result.findings if f.rule == TIMEOUT_RULE]
    assert not timeouts, timeouts


def rules_of(result: LintResult) -> set[str]:
    return {f.rule for f in result.findings}


def test_sparse_image_of_a_million_blank_lines(tmp_path):
    """Item 1: a 400-byte mail whose hunk sits at line 1,000,000.  (Before the fix the
    #include search over it took minutes inside one re call, which no budget can stop;
    at 200,000 lines it took about a minute and left an internal/timeout.)"""
    text = hostile.sparse_mbox(1_000_000)
    assert len(text) < 600
    assert_bounded(lint_mbox(tmp_path, text))


def test_deep_statement_nesting_does_not_crash():
    """Item 4: 200 nested blocks raised RecursionError in the CFG builder (exit 3)."""
    for text in (
        hostile.nested_c(400),
        hostile.braceless_nest_c(600),
        hostile.nested_ifdef_c(600),
        hostile.else_if_chain_c(800),
    ):
        assert_bounded(lint_c(text))


def test_cfg_nested_past_the_cap_is_marked_truncated():
    from patchbot.cparse.functions import analyze_file

    # (braces deeper than limits.MAX_BLOCK_DEPTH are blanked before parsing: a nest
    # without braces reaches the builder's own cap)
    deep = analyze_file(hostile.braceless_nest_c(300)).functions[0]
    assert deep.cfg.truncated
    shallow = analyze_file(hostile.nested_c(10)).functions[0]
    assert not shallow.cfg.truncated
    # the conversion and the free under ten levels are still seen
    assert [e.kind for e in shallow.events] == ["conversion", "free"]


def _git(repo: Path, *args: str) -> str:
    import subprocess

    env = {
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@example.org",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@example.org",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def test_non_ascii_file_name_quoted_by_git_is_linted(tmp_path, run_cli):
    """Item 7: git writes dir/é.c as "a/dir/\\303\\251.c"; it was dropped as escaping the
    tree, never linted, and the run exited 2."""
    repo = tmp_path / "repo"
    (repo / "dir").mkdir(parents=True)
    _git(repo, "init", "-q")
    source = repo / "dir" / "\u00e9.c"
    source.write_text("static int demo(void)\n{\n\treturn 0;\n}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    source.write_text(
        "static int demo(struct demo *d)\n{\n"
        "\td->x = (d->a * d->b + d->c);\n"
        "\td->y = (d->a * d->b + d->c);\n"
        "\treturn (d->a * d->b + d->c);\n}\n"
    )
    _git(repo, "commit", "-qam", "demo: repeat")
    patch = _git(repo, "format-patch", "-1", "--stdout")
    assert '"a/dir/\\303\\251.c"' in patch  # git quotes the name
    mail = tmp_path / "x.mbox"
    mail.write_text(patch)
    code, out, err = run_cli("lint", str(mail), "--select", "repeated-expression")
    assert "escapes the tree" not in err
    assert code == 1, err
    assert "dir/\u00e9.c:3:" in out


def test_git_unquote_follows_quote_c_style():
    from patchbot.series.diffparse import git_unquote, safe_path

    assert git_unquote("a/dir/\\303\\251.c") == "a/dir/\u00e9.c"
    assert git_unquote('a/x\\ty\\"z\\\\') == 'a/x\ty"z\\'
    assert safe_path('"b/dir/\\303\\251.c"') == "dir/\u00e9.c"
    for bad in ('"a/x\\q.c"', '"a/x\\ty.c"', '"a/../\\303\\251.c"'):
        try:
            safe_path(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


def test_many_conversions_of_one_buffer_in_a_c_file():
    """Item 2: every walk met every other conversion (400 conversions: over 60 s and
    4 GB); the walks are capped and the cap is reported."""
    text = hostile.conversions_c(400)
    result = lint_c(text)
    assert_bounded(result)
    # what is found before the cap still is: the first conversions' paths
    assert rules_of(result) - {TIMEOUT_RULE}
    assert any("paths followed from the first 64" in w for w in result.warnings)


def test_many_conversions_in_a_mail(tmp_path):
    """Item 2 through a patch: a 22 KB mail adding a file with 300 conversions."""
    diff = hostile.new_file_diff("drivers/misc/demo_coco.c", hostile.conversions_c(100))
    assert_bounded(lint_mbox(tmp_path, hostile.mbox(diff)))


def test_walk_caps_keep_small_functions_whole():
    from patchbot.cparse.coco import file_hits
    from patchbot.cparse.limits import skipped

    text = hostile.conversions_c(3)
    assert file_hits(text) and not skipped(text)


def test_long_expression_lines():
    """Item 3: repeated-expression on one 200 KB line (29 s, 2.5 GB) and an 80 KB line
    of '(' (32 s inside one tree-sitter query)."""
    for text in (
        hostile.long_line_c(200_000),
        hostile.call_chain_c(200_000),
        hostile.open_parens_line(80_000),
        hostile.nested_parens_c(20_000),
    ):
        assert_bounded(lint_c(text))


def test_long_chain_still_finds_its_repeated_parts():
    """The cap drops only whole expressions over 1,000 bytes: the repeated term inside
    a long chain is still reported."""
    result = lint_c(hostile.call_chain_c(3_000).replace("demo_get(d, i)", "(d->a * d->b + d->c)"))
    assert "repeated-expression" in rules_of(result)


def test_over_deep_parentheses_are_blanked_and_reported():
    from patchbot.cparse.limits import MAX_PAREN_DEPTH, bounded_source

    text = hostile.nested_parens_c(MAX_PAREN_DEPTH + 1)
    blanked, notes = bounded_source(text)
    assert len(blanked.encode()) == len(text.encode()) and blanked.count("\n") == text.count("\n")
    assert blanked.split("\n")[2].strip() == ";"  # the return statement's expression
    assert blanked.split("\n")[0] == text.split("\n")[0]  # the function header stays
    assert notes and "nested over" in notes[0]
    fine = hostile.nested_parens_c(MAX_PAREN_DEPTH - 1)
    assert bounded_source(fine) == (fine, [])
    # non-ASCII text keeps its byte length
    wide = "int x = " + "(" * 200 + "\u00e9" + ")" * 200 + ";\n"
    assert len(bounded_source(wide)[0].encode()) == len(wide.encode())


def test_deep_blocks_and_long_else_if_chains_are_blanked():
    """1 MB of nested blocks or of one else-if chain took 40 s (node lookups walk down
    from the root); past the caps the inside is blanked and reported."""
    for text, what in (
        (hostile.nested_c(20_000), "blocks nested over"),
        (hostile.else_if_chain_c(5_000), "over 1000 'else'"),
    ):
        result = lint_c(text)
        assert_bounded(result)
        assert any(what in w for w in result.warnings), result.warnings


def test_hunk_only_image_with_many_fragments():
    """Item 6: a 718 KB C file spent over 20 s in the fragment headers' edits (one
    line offset summed from the top per header)."""
    block = ["", "\tret = set_memory_decrypted(addr, 1);", "\t}", "\t}", "\t}"]
    text = "\n".join(block * 25_000)
    assert len(text) > 700_000
    assert_bounded(_engine().lint_files([SourceFile("drivers/misc/demo.c", text, complete=False)]))


def _modify_diff(path: str) -> str:
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,3 @@\n x\n+y\n x\n"
    )


def test_tree_reads_only_bounded_source_files(tmp_path):
    """Item 5: with --tree every file a patch names was read whole, .git/config
    included (a 3.9 KB mail: 18.6 s, 1.15 GB)."""
    from patchbot.series.images import MAX_SOURCE_BYTES

    tree = tmp_path / "tree"
    (tree / ".git").mkdir(parents=True)
    (tree / ".git" / "config").write_text("x\n" * 1000)
    (tree / "drivers").mkdir()
    (tree / "drivers" / "ok.c").write_text("x\nx\n")
    (tree / "drivers" / "huge.c").write_text("x\n" * (MAX_SOURCE_BYTES // 2 + 1))
    outside = tmp_path / "secret.c"
    outside.write_text("x\nx\n")
    (tree / "drivers" / "link.c").symlink_to(outside)
    (tree / "drivers" / "dir.c").mkdir()
    diff = "".join(
        _modify_diff(p)
        for p in (
            ".git/config",
            "drivers/ok.c",
            "drivers/huge.c",
            "drivers/link.c",
            "drivers/dir.c",
            "drivers/gone.c",
        )
    )
    mail = tmp_path / "t.mbox"
    mail.write_text(hostile.mbox(diff))
    series = load_series([str(mail)], tree=str(tree))
    assert sorted(series.pre_images) == ["drivers/ok.c"]
    warnings = "\n".join(series.patches[0].warnings)
    assert ".git/config: inside .git/" in warnings
    assert f"drivers/huge.c is {2 * (MAX_SOURCE_BYTES // 2 + 1)} bytes, over the limit" in warnings
    assert "drivers/link.c: outside the tree" in warnings
    assert "drivers/dir.c: not a regular file" in warnings
    assert "drivers/gone.c is not in the tree" in warnings


def test_file_mode_skips_files_over_the_limit(tmp_path, run_cli):
    from patchbot.series.images import MAX_SOURCE_BYTES

    big = tmp_path / "big.c"
    big.write_text("int x;\n" * (MAX_SOURCE_BYTES // 7 + 1))
    small = tmp_path / "small.c"
    small.write_text("int y;\n")
    code, _out, err = run_cli("lint", "--file", str(big), str(small))
    assert code == 0 and "big.c:" in err and "over the limit" in err
    code, _out, err = run_cli("lint", "--file", str(big))
    assert code == 2 and "no file within the size limit" in err
