from __future__ import annotations

from pathlib import Path

import pytest
from test_engine_support import (
    CALL_RULE,
    COUNT_RULE,
    CRASH_RULE,
    PATCH_RULE,
    SERIES_RULE,
    write_rules,
)

from patchbot.api import Severity, SourceFile
from patchbot.config import Config, IgnoreEntry, RuleSettings
from patchbot.engine import (
    Engine,
    RuleLoadError,
    load_rules,
    read_baseline,
    select_rules,
    write_baseline,
)
from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INTERNAL, InputError
from patchbot.series.model import DiffLine, FileDiff, Hunk, Patch, Series, Trailer

PRE = """\
static int demo_setup(struct demo *d)
{
\tint ret;

\tret = frob(d);
\treturn ret;
}

static void demo_other(struct demo *d)
{
\tfrob(d);
}
"""

# patch: adds a line to demo_setup only; demo_other's frob() is old news
POST = """\
static int demo_setup(struct demo *d)
{
\tint ret;

\tret = frob(d);
\tdemo_log(d);
\treturn ret;
}

static void demo_other(struct demo *d)
{
\tfrob(d);
}
"""


def engine_for(tmp_path: Path, config: Config | None = None, **rules: str) -> Engine:
    rule_dir = write_rules(tmp_path / "rules", **rules)
    loaded = load_rules([rule_dir], include_bundled=False)
    config = config or Config()
    return Engine(select_rules(loaded, config), config)


def one_patch_series(*files: SourceFile, trailers: list[Trailer] | None = None) -> Series:
    patch = Patch(
        subject="[PATCH 1/1] demo: log setup",
        title="demo: log setup",
        number=1,
        total=1,
        trailers=trailers or [],
    )
    for f in files:
        patch.files.append(FileDiff(old_path=f.path, new_path=f.path))
    return Series(patches=[patch])


def sources_from(files: list[SourceFile]):
    return lambda series, patch: files


def test_file_mode_keeps_every_finding(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    result = engine.lint_files([SourceFile("demo.c", POST)])
    assert [(f.line, f.function) for f in result.findings] == [
        (5, "demo_setup"),
        (12, "demo_other"),
    ]
    assert result.mode == "files"
    assert result.exit_code("warning") == EXIT_FINDINGS
    assert result.exit_code("error") == EXIT_CLEAN


def test_patch_mode_drops_findings_in_untouched_functions_and_old_ones(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    # line 5 is in the changed function but the pre-image has the same finding there
    file = SourceFile("demo.c", POST, added=frozenset({6}), complete=True, pre_text=PRE)
    result = engine.lint_series(one_patch_series(file), sources_from([file]))
    assert result.findings == []


def test_patch_mode_keeps_added_lines(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    post = POST.replace("\tdemo_log(d);", "\tfrob(d + 1);")
    file = SourceFile("demo.c", post, added=frozenset({6}), pre_text=PRE)
    result = engine.lint_series(one_patch_series(file), sources_from([file]))
    assert [(f.line, f.patch) for f in result.findings] == [(6, "1/1")]


def test_patch_mode_keeps_new_finding_on_unchanged_line_of_changed_function(tmp_path):
    # the patch renames the forbidden call: the old line is not added, but the
    # finding's message is new, so the patch introduced it
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    pre = PRE.replace("ret = frob(d);", "ret = frob(d);").replace("frob", "grab")
    file = SourceFile("demo.c", POST, added=frozenset({6}), pre_text=pre)
    result = engine.lint_series(one_patch_series(file), sources_from([file]))
    assert [f.line for f in result.findings] == [5]


def test_removed_line_marks_function_changed(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    pre = PRE.replace("\tfrob(d);\n}", "\tgrab(d);\n\tdemo_log(d);\n}")
    post = PRE.replace("\tfrob(d);\n}", "\tgrab(d);\n}").replace("grab(d);\n}", "frob(d);\n}")
    file = SourceFile("demo.c", post, added=frozenset(), pre_text=pre)
    series = one_patch_series(file)
    hunk = Hunk(10, 4, 10, 3, "", [DiffLine("-", "\tdemo_log(d);", 12, None)])
    series.patches[0].files[0].hunks.append(hunk)
    result = engine.lint_series(series, sources_from([file]))
    assert [(f.line, f.function) for f in result.findings] == [(11, "demo_other")]


def test_crashing_rule_is_reported_and_others_still_run(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE, demo_crash=CRASH_RULE)
    result = engine.lint_files([SourceFile("demo.c", POST)])
    assert len(result.findings) == 2
    assert len(result.errors) == 1
    assert "demo-crash" in result.errors[0] and "RuntimeError: boom" in result.errors[0]
    assert result.exit_code("never") == EXIT_INTERNAL


def test_patch_and_series_scopes(tmp_path):
    engine = engine_for(tmp_path, demo_signoff=PATCH_RULE, demo_count=SERIES_RULE)
    files = [
        SourceFile("a.c", "int a;\n", frozenset({1})),
        SourceFile("b.c", "int b;\n", frozenset({1})),
    ]
    result = engine.lint_series(one_patch_series(*files), sources_from(files))
    assert sorted(f.rule for f in result.findings) == ["demo-count", "demo-signoff"]
    signed = one_patch_series(*files, trailers=[Trailer("Signed-off-by", "A <a@b>", 3)])
    result = engine.lint_series(signed, sources_from(files))
    assert [f.rule for f in result.findings] == ["demo-count"]


def test_identical_findings_are_deduplicated(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    file = SourceFile("demo.c", "int x = frob(1);\n")
    result = engine.lint_files([file, file])
    assert len(result.findings) == 1


def test_inline_suppression_is_narrow(tmp_path):
    text = (
        "void f(void)\n{\n"
        "\tfrob(1); /* patchbot-ignore: demo-call */\n"  # 3: silenced
        "\tfrob(2);\n"  # 4: a trailing comment above does not cover this line
        "\t// patchbot-ignore: old-demo-call\n"
        "\tfrob(3);\n"  # 6: silenced by the alias on the line above
        "\t/* patchbot-ignore: some-other-rule */\n"
        "\tfrob(4);\n"  # 8: another rule's suppression does not count
        "}\n"
    )
    result = engine_for(tmp_path, demo_call=CALL_RULE).lint_files([SourceFile("s.c", text)])
    assert [f.line for f in result.findings] == [4, 8]
    assert result.suppressed == 2


def test_config_options_severity_and_path_ignores(tmp_path):
    config = Config(
        rules={"demo-call": RuleSettings(severity=Severity.ERROR, options={"call": "grab"})},
        ignores=[IgnoreEntry("demo-call", ("vendor/*",))],
    )
    engine = engine_for(tmp_path, config, demo_call=CALL_RULE)
    files = [SourceFile("drv/a.c", "grab(1);\nfrob(1);\n"), SourceFile("vendor/b.c", "grab(2);\n")]
    result = engine.lint_files(files)
    assert [(f.path, f.line, f.severity.label) for f in result.findings] == [
        ("drv/a.c", 1, "error")
    ]
    assert result.suppressed == 1


def test_selection_flags(tmp_path):
    rule_dir = write_rules(tmp_path / "rules", demo_call=CALL_RULE, demo_crash=CRASH_RULE)
    loaded = load_rules([rule_dir], include_bundled=False)
    config = Config(rules={"demo-crash": RuleSettings(enabled=False)})
    assert [r.id for r in select_rules(loaded, config)] == ["demo-call"]
    assert [r.id for r in select_rules(loaded, config, enable=["demo-crash"])] == [
        "demo-call",
        "demo-crash",
    ]
    assert [r.id for r in select_rules(loaded, Config(), select=["demo-crash"])] == ["demo-crash"]
    assert select_rules(loaded, Config(), disable=["old-demo-call", "demo-crash"]) == []
    with pytest.raises(InputError, match="no-such-rule"):
        select_rules(loaded, Config(), select=["no-such-rule"])


def test_baseline_round_trip(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    result = engine.lint_files([SourceFile("demo.c", POST)])
    path = tmp_path / "baseline.json"
    assert write_baseline(path, result.findings) == 2
    keys = read_baseline(path)
    # a baseline survives line moves: shift everything down by three lines
    moved = SourceFile("demo.c", "\n\n\n" + POST + "void g(void)\n{\n\tfrob(0);\n}\n")
    again = Engine(engine.active, baseline=keys).lint_files([moved])
    assert [(f.function, f.line) for f in again.findings] == [("g", 19)]
    assert again.baselined == 2


def test_bad_baseline_is_input_error(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"version": 99}')
    with pytest.raises(InputError, match="not a patchbot baseline"):
        read_baseline(path)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("def check(ctx):\n    return []\n", "no RULE"),
        ("this is not python(\n", "failed to import"),
        (CALL_RULE.replace('id="demo-call"', 'id="Demo_Call"'), "not kebab-case"),
        (CALL_RULE.replace('scope="file"', 'scope="line"'), "scope"),
        (CALL_RULE.replace("def check(ctx):", "def other(ctx):"), "no check"),
    ],
)
def test_broken_rule_module_is_internal_error_naming_the_file(tmp_path, body, needle):
    rule_dir = write_rules(tmp_path / "rules", broken_rule=body)
    with pytest.raises(RuleLoadError, match=needle) as info:
        load_rules([rule_dir], include_bundled=False)
    assert "broken_rule.py" in str(info.value)
    assert info.value.exit_code == 3


def test_duplicate_ids_and_aliases_rejected_underscore_files_skipped(tmp_path):
    rule_dir = write_rules(tmp_path / "rules", a_rule=CALL_RULE, _helper="raise SystemExit\n")
    assert [r.id for r in load_rules([rule_dir], include_bundled=False)] == ["demo-call"]
    clash = CRASH_RULE.replace('id="demo-crash"', 'id="old-demo-call"')
    write_rules(rule_dir, b_rule=clash)
    with pytest.raises(RuleLoadError, match="old-demo-call"):
        load_rules([rule_dir], include_bundled=False)


def test_rule_modules_are_not_importable_as_rules(tmp_path):
    import sys

    rule_dir = write_rules(tmp_path / "rules", demo_call=CALL_RULE)
    (loaded,) = load_rules([rule_dir], include_bundled=False)
    assert "rules" not in sys.modules
    assert sys.modules[loaded.check.__module__].__name__.startswith("patchbot_rules.")


def test_line_numbers_in_messages_do_not_make_old_findings_new(tmp_path):
    engine = engine_for(tmp_path, demo_count_calls=COUNT_RULE)
    pre = "void f(void)\n{\n\tfrob(1);\n\tfrob(2);\n}\n"
    post = "void f(void)\n{\n\tfrob(1);\n\tgrab(0);\n\tfrob(2);\n}\n"  # shifts frob(2) down
    file = SourceFile("c.c", post, added=frozenset({4}), pre_text=pre)
    result = engine.lint_series(one_patch_series(file), sources_from([file]))
    assert result.findings == []
    # a baseline written before the shift still matches after it
    path = tmp_path / "b.json"
    write_baseline(path, engine.lint_files([SourceFile("c.c", pre)]).findings)
    moved = Engine(engine.active, baseline=read_baseline(path)).lint_files(
        [SourceFile("c.c", post)]
    )
    assert (moved.findings, moved.baselined) == ([], 1)


def test_suppression_is_read_from_the_patch_that_made_the_finding(tmp_path):
    engine = engine_for(tmp_path, demo_call=CALL_RULE)
    first = "void f(void)\n{\n\tfrob(1); /* patchbot-ignore: demo-call */\n}\n"
    second = "void g(void)\n{\n}\n\n" + first  # patch 2 moves f() down four lines
    p1 = Patch(subject="[PATCH 1/2] a", title="a", number=1, total=2)
    p2 = Patch(subject="[PATCH 2/2] b", title="b", number=2, total=2)
    files = {
        "1/2": [SourceFile("s.c", first, frozenset({1, 2, 3, 4}), pre_text="")],
        "2/2": [SourceFile("s.c", second, frozenset({1, 2, 3, 4}), pre_text=first)],
    }
    result = engine.lint_series(Series(patches=[p1, p2]), lambda s, p: files[p.label])
    assert result.findings == []
    assert result.suppressed == 1
