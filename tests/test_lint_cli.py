"""`patchbot lint` end to end, in-process, on our own kernel-style series."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_engine_support import CALL_RULE, CRASH_RULE, PATCH_RULE, trust_directory, write_rules

LINT = FIXTURES / "lint_cli"
MBOX = LINT / "series.mbox"
PATCH1 = LINT / "series" / "0001-demo-share-the-buffer-with-the-host.patch"
SELECT = ("--select", "demo-call,demo-signoff")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory whose .patchbot.toml adds our demo rules (rule-dirs run code:
    the directory is in the user's trust file, see tests/test_config_trust.py)."""
    write_rules(tmp_path / "demo-rules", demo_call=CALL_RULE, demo_signoff=PATCH_RULE)
    (tmp_path / ".patchbot.toml").write_text('rule-dirs = ["demo-rules"]\n')
    trust_directory(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_series_text_report(project, run_cli):
    code, out, err = run_cli("lint", str(MBOX), *SELECT)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == "[PATCH 1/2] demo: share the buffer with the host"
    assert lines[1] == "drivers/demo/demo_buf.c:21:1: warning: frob() is forbidden here [demo-call]"
    # the old frob() in demo_buf_teardown and the suppressed one in patch 2 are not reported
    assert len([ln for ln in lines if "[demo-call]" in ln]) == 1
    assert lines[-1] == "patchbot: 1 finding (1 warning) in 2 patches (1 suppressed)"


def test_tree_gives_whole_files_and_same_answer(project, run_cli):
    code, out, _ = run_cli("lint", str(LINT / "series"), "--tree", str(LINT / "tree"), *SELECT)
    assert code == 1
    assert "drivers/demo/demo_buf.c:21:1: warning: frob() is forbidden here [demo-call]" in out


def test_fail_on_and_clean_exit(project, run_cli):
    assert run_cli("lint", str(MBOX), *SELECT, "--fail-on", "error")[0] == 0
    assert run_cli("lint", str(MBOX), *SELECT, "--fail-on", "never")[0] == 0
    assert run_cli("lint", str(MBOX), "--select", "demo-signoff")[0] == 0
    (project / ".patchbot.toml").write_text('rule-dirs = ["demo-rules"]\nfail-on = "error"\n')
    assert run_cli("lint", str(MBOX), *SELECT)[0] == 0
    assert run_cli("lint", str(MBOX), *SELECT, "--fail-on", "info")[0] == 1


def test_file_mode_reports_everything(project, run_cli):
    c_file = project / "demo_buf.c"
    shutil.copy(LINT / "tree/drivers/demo/demo_buf.c", c_file)
    code, out, _ = run_cli(
        "lint", "--file", str(c_file), "--select", "demo-call", "--format", "json"
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["mode"] == "files"
    assert [(f["line"], f["function"]) for f in doc["findings"]] == [(27, "demo_buf_teardown")]


def test_b4_check_from_stdin(project, run_cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PATCH1.read_bytes())))
    code, out, _ = run_cli("lint", "--format", "b4", "-", *SELECT)
    assert code == 1
    (entry,) = json.loads(out)
    assert entry["tool"] == "patchbot" and entry["status"] == "warn" and entry["url"] is None
    details = json.loads(entry["details"])
    assert details[0] == {
        "status": "warn",
        "description": "drivers/demo/demo_buf.c:21: warning: frob() is forbidden here [demo-call]",
    }
    # a lone patch of a 2-patch series: the loader's warning travels along, status unchanged
    assert all(d["description"].startswith("input: ") for d in details[1:])


def test_output_file_and_review_format(project, run_cli):
    target = project / "reply.txt"
    code, out, _ = run_cli(
        "lint", str(PATCH1), *SELECT, "--format", "review", "--output", str(target)
    )
    assert code == 1 and out == ""
    reply = target.read_text()
    assert reply.startswith("Subject: Re: [PATCH 1/2] demo: share the buffer with the host\n")
    assert "> +\tfrob(dd);\n\nfrob() is forbidden here [demo-call]\n" in reply


def test_write_baseline_then_use_it(project, run_cli):
    baseline = project / "baseline.json"
    code, _, err = run_cli("lint", str(MBOX), *SELECT, "--write-baseline", str(baseline))
    assert code == 0 and "wrote 1 findings" in err
    assert json.loads(baseline.read_text())["version"] == 1
    code, out, _ = run_cli("lint", str(MBOX), *SELECT, "--baseline", str(baseline))
    assert code == 0
    assert "(1 suppressed, 1 in baseline)" in out


def test_crashing_rule_exits_3_but_still_reports(project, run_cli):
    write_rules(project / "demo-rules", demo_crash=CRASH_RULE)
    code, out, err = run_cli("lint", str(MBOX), "--select", "demo-call,demo-crash")
    assert code == 3
    assert "[demo-call]" in out
    assert "patchbot: internal error: rule demo-crash crashed on drivers/demo/demo_buf.c" in err


def test_broken_rule_module_exits_3_naming_it(project, run_cli):
    (project / "demo-rules" / "half_written.py").write_text("RULE = \n")
    code, _, err = run_cli("lint", str(MBOX))
    assert code == 3
    assert "half_written.py" in err and "Traceback" not in err


def test_damaged_input_warns_on_stderr_and_in_json(project, run_cli):
    mangled = project / "mangled.patch"
    text = PATCH1.read_text().replace("@@ -10,9 +10,15 @@", "@@ -10,9 +10,17 @@")
    mangled.write_text(text)
    code, out, err = run_cli("lint", str(mangled), *SELECT, "--format", "json")
    assert code in (0, 1)
    doc = json.loads(out)
    assert doc["warnings"], "the parser should flag the bad hunk count"
    assert all(f"patchbot: warning: {w}" in err for w in doc["warnings"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("lint", "no-such.mbox"), "no-such.mbox"),
        (("lint", str(MBOX), "--select", "no-such-rule"), "no-such-rule"),
        (("lint", str(MBOX), "--format", "yaml"), "invalid choice"),
        (("lint", "--file", "missing.c"), "missing.c"),
        (("lint", str(MBOX), "--file", "x.c"), "do not also give patches"),
        (("lint", str(MBOX), "--baseline", "nope.json"), "nope.json"),
        (("lint", str(MBOX), "--config", "nope.toml"), "nope.toml"),
    ],
)
def test_bad_usage_is_one_line_exit_2(project, run_cli, argv, needle):
    code, _, err = run_cli(*argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_rules_list_explain_and_alias(project, run_cli):
    code, out, _ = run_cli("rules", "list")
    assert code == 0
    assert any(ln.split()[:3] == ["demo-call", "warning", "file"] for ln in out.splitlines())
    code, out, _ = run_cli("rules", "explain", "old-demo-call")
    assert code == 0 and out.startswith("demo-call: calls a function the demo forbids")
    assert "Flags calls to a configured function." in out
    assert run_cli("rules", "explain", "nope")[0] == 2


def test_rules_doc_writes_and_checks(project, run_cli):
    target = project / "RULES.md"
    assert run_cli("rules", "doc", "--output", str(target))[0] == 0
    assert "## demo-call" in target.read_text()
    assert run_cli("rules", "doc", "--output", str(target), "--check")[0] == 0
    target.write_text("stale\n")
    assert run_cli("rules", "doc", "--output", str(target), "--check")[0] == 1


def test_audit_mode_over_a_tree(project, run_cli):
    code, out, _ = run_cli(
        "lint", "--tree", str(LINT / "tree"), "--paths", "drivers/demo", "--select", "demo-call"
    )
    assert code == 1
    assert out.splitlines()[0].startswith("drivers/demo/demo_buf.c:27:1: warning:")


SERIES_ALWAYS = '''
"""Always has something to say about the series."""
from patchbot.api import Rule, Severity

RULE = Rule(id="demo-series", severity=Severity.WARNING, scope="series", summary="always")


def check(ctx):
    yield ctx.finding("the series is incomplete", 1, path="COMMIT_MSG")
'''


def test_b4_skips_series_rules(project, run_cli, monkeypatch):
    write_rules(project / "demo-rules", demo_series=SERIES_ALWAYS)
    code, out, _ = run_cli("lint", str(PATCH1), "--select", "demo-series")
    assert code == 1 and "[demo-series]" in out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PATCH1.read_bytes())))
    code, out, _ = run_cli("lint", "--format", "b4", "-", "--select", "demo-series")
    assert code == 0
    assert json.loads(out)[0]["status"] == "pass"


def test_git_range_uses_whole_files(project, run_cli):
    import subprocess

    repo = project / "repo"
    shutil.copytree(LINT / "tree", repo)
    env = {
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(project),
    }

    def git(*argv: str) -> None:
        subprocess.run(["git", *argv], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    git("am", "-q", str(PATCH1), str(LINT / "series/0002-demo-add-a-reset-helper.patch"))
    code, out, err = run_cli(
        "lint",
        "--git",
        "HEAD~2..HEAD",
        "--repo",
        str(repo),
        "--select",
        "demo-call",
        "--format",
        "json",
    )
    assert code == 1, err
    doc = json.loads(out)
    assert doc["series"]["source"] == "git:HEAD~2..HEAD"
    assert [(f["patch"]["label"], f["line"]) for f in doc["findings"]] == [("1/2", 21)]


def test_checkpatch_format_for_b4_prep_check(project, run_cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PATCH1.read_bytes())))
    code, out, err = run_cli("lint", "--format", "checkpatch", "-", *SELECT)
    assert code == 1
    assert out == "drivers/demo/demo_buf.c:21: WARNING: frob() is forbidden here [demo-call]\n"
    # b4 prep --check turns every stderr line into a failure: keep it empty
    assert err == ""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PATCH1.read_bytes())))
    code, out, err = run_cli("lint", "--format", "checkpatch", "-", "--select", "demo-signoff")
    assert (code, out, err) == (0, "", "")


@pytest.mark.kernel_tree
def test_tree_by_version_name_reads_the_embedded_tree(run_cli, kernel_tree):
    # `--tree 6.1` is the cached Debian tree, for a series as for an audit
    example = Path(__file__).resolve().parent.parent / "examples" / "virtio-mem-coco-rfc.mbox"
    by_name = run_cli("lint", "--format", "json", "--tree", "6.1", str(example))
    by_path = run_cli("lint", "--format", "json", "--tree", str(kernel_tree), str(example))
    assert by_name[0] == 1, by_name[2]
    assert json.loads(by_name[1])["findings"] == json.loads(by_path[1])["findings"]
