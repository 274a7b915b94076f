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

    deep = analyze_file(hostile.nested_c(300)).functions[0]
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
