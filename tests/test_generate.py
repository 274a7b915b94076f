"""patchbot generate, the parts that need no kernel tree: placement, rendering, the CLI.

The series themselves, on the real 6.1 tree, are proven in test_generate_series.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbot.errors import InputError
from patchbot.generate.cfile import CFile, DriftError, definitions
from patchbot.generate.render import Renderer, align_continuations, mark_continuations
from patchbot.generate.series import check_assisted_by

DEMO = Path(__file__).parent / "fixtures" / "generate" / "demo.c"


def demo() -> CFile:
    return CFile("demo.c", DEMO.read_text())


def test_definitions_finds_functions_and_structs_not_initialisers():
    names = [d.name for d in definitions(DEMO.read_text())]
    # the braces in the string, the char literal and the comment open nothing
    assert names == ["struct demo_dev", "struct demo_ops", "demo_plug", "demo_unplug"]


def test_insert_before_moves_above_the_documenting_comment():
    f = demo()
    f.insert_before("demo_plug", "static int demo_new(void)\n{\n\treturn 0;\n}\n\n")
    text = f.text
    assert text.index("demo_new") < text.index("Plug one range") < text.index("demo_plug(")
    assert [d.name for d in definitions(text)][2:] == ["demo_new", "demo_plug", "demo_unplug"]


def test_replace_in_is_limited_to_the_named_function():
    f = demo()
    f.replace_in("demo_unplug", "\tdev->base = 0;\n", "\tdev->base = 0;\n\tdev->nr = 0;\n")
    assert "dev->nr = 0;" in f.find("demo_unplug").name + f.text[f.find("demo_unplug").start :]
    # the same text exists only inside demo_unplug, never searched elsewhere
    with pytest.raises(DriftError, match=r"in demo_plug\(\): anchor 'dev->nr = 0;' not found"):
        f.replace_in("demo_plug", "dev->nr = 0;", "x")


def test_drift_is_an_input_error_naming_what_is_missing():
    f = demo()
    with pytest.raises(DriftError, match=r"no definition of demo_gone\(\); the file has drifted"):
        f.insert_before("demo_gone", "x")
    twice = CFile("t.c", "int a;\nstatic int f(void)\n{\n\tx = 1;\n\tx = 1;\n}\n")
    with pytest.raises(DriftError, match="ambiguous"):
        twice.replace_in("f", "\tx = 1;\n", "")
    assert issubclass(DriftError, InputError)


def test_replace_top_refuses_an_anchor_inside_a_definition():
    f = demo()
    f.replace_top("#include <linux/mm.h>\n", "#include <linux/mm.h>\n#include <linux/slab.h>\n")
    assert "#include <linux/slab.h>\n" in f.text
    with pytest.raises(DriftError, match="inside demo_unplug"):
        f.replace_top("\tdev->base = 0;\n", "")


def test_continuations_align_with_the_open_parenthesis_in_tabs_then_spaces():
    code = mark_continuations("\trc = demo_convert(addr + off,\n~size, true);\n")
    assert align_continuations(code) == "\trc = demo_convert(addr + off,\n\t\t\t  size, true);\n"
    head = mark_continuations("static int a_long_name(struct x *x,\n~int a,\n~int b)\n")
    lines = align_continuations(head).splitlines()
    assert lines[1] == lines[2].replace("int b)", "int a,") == "\t\t       int a,"
    with pytest.raises(InputError, match="has no open"):
        align_continuations(mark_continuations("x;\n~y);\n"))


def test_strict_undefined_fails_loudly(tmp_path: Path):
    (tmp_path / "t.c.j2").write_text("static int {{ prefix }}_{{ missing }}(void);\n")
    render = Renderer({"prefix": "demo"}, tmp_path)
    with pytest.raises(InputError, match=r"t\.c\.j2: 'missing' is undefined"):
        render("t.c.j2")


def test_user_template_dir_wins_over_bundled(tmp_path: Path):
    bundled = Renderer({"prefix": "demo", "cc_attr": "CC_ATTR_X"})(
        "virtio-mem-coco/convert_range.c.j2"
    )
    assert "static int demo_convert_range(" in bundled
    own = tmp_path / "virtio-mem-coco"
    own.mkdir()
    (own / "convert_range.c.j2").write_text("/* ours */ int {{ prefix }}_mine;\n")
    assert Renderer({"prefix": "demo"}, tmp_path)("virtio-mem-coco/convert_range.c.j2") == (
        "/* ours */ int demo_mine;\n"
    )
    # a template the user did not override still comes from the bundled directory
    walk = Renderer({"prefix": "d", "vm_type": "struct v"}, tmp_path)(
        "virtio-mem-coco/walk_plugged.c.j2"
    )
    assert "d_sbm_convert_plugged(struct v *vm," in walk


@pytest.mark.parametrize("value", ["Claude", "Claude (opus)", "a:b:c", ":model", "agent:"])
def test_assisted_by_format_is_checked(value: str):
    with pytest.raises(InputError, match="AGENT:MODEL"):
        check_assisted_by(value)


def test_assisted_by_accepts_agent_colon_model():
    check_assisted_by("Claude:claude-opus-4-6")


def test_cli_list_and_print(run_cli):
    code, out, _ = run_cli("generate", "list")
    assert code == 0
    assert "series  virtio-mem-coco" in out and "series  dma-buf-shared-heap" in out
    assert "helper  range-walker" in out
    code, out, _ = run_cli("generate", "helper", "range-walker", "--print", "--param", "prefix=foo")
    assert code == 0
    # the walker needs the conversion helper: both come out, the helper first
    assert out.index("static int foo_convert_range(") < out.index("foo_sbm_convert_plugged(")
    assert "foo_convert_range(mb_addr + sb_id * sb_size,\n\t\t\t\t       count * sb_size" in out


def test_cli_bad_params_exit_2(run_cli, tmp_path: Path):
    code, _, err = run_cli("generate", "helper", "range-walker", "--print", "--param", "nope=1")
    assert code == 2 and "unknown; known: cc_attr, prefix, vm_type" in err
    code, _, err = run_cli("generate", "helper", "range-walker", "--print", "--param", "prefix=a;b")
    assert code == 2 and "C identifier" in err
    code, _, err = run_cli("generate", "helper", "no-such", "--print")
    assert code == 2 and "no helper 'no-such'" in err
    (tmp_path / "virtio-mem-coco").mkdir()
    (tmp_path / "virtio-mem-coco" / "convert_range.c.j2").write_text("{{ undefined_thing }}\n")
    code, _, err = run_cli(
        "generate", "--template-dir", str(tmp_path), "helper", "convert-range", "--print"
    )
    assert code == 2 and "'undefined_thing' is undefined" in err
    assert "Traceback" not in err


def test_config_template_dir_wins(run_cli, tmp_path: Path):
    own = tmp_path / "tpl" / "virtio-mem-coco"
    own.mkdir(parents=True)
    (own / "convert_range.c.j2").write_text("/* from config */ int {{ prefix }}_cfg;\n")
    config = tmp_path / ".patchbot.toml"
    config.write_text('template-dir = "tpl"\n')
    code, out, _ = run_cli(
        "generate", "--config", str(config), "helper", "convert-range", "--print"
    )
    assert code == 0 and out == "/* from config */ int virtio_mem_cfg;\n"
    config.write_text("template-dir = 3\n")
    code, _, err = run_cli("generate", "--config", str(config), "list")
    assert code == 2 and "template-dir must be a directory name" in err


@pytest.mark.kernel_tree
def test_cli_helper_inserts_into_the_tree_once_and_never_into_the_cache(run_cli, kernel_tree):
    import shutil
    import tempfile

    src = "drivers/virtio/virtio_mem.c"
    pristine = (kernel_tree / src).read_text()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        (tree / src).parent.mkdir(parents=True)
        shutil.copy(kernel_tree / src, tree / src)
        code, out, err = run_cli("generate", "helper", "range-walker", "--tree", str(tree))
        assert code == 0, err
        assert "inserted convert-range, range-walker" in out
        text = (tree / src).read_text()
        _, printed, _ = run_cli("generate", "helper", "range-walker", "--print")
        # the printed helpers are what went in, right above the notifier they serve
        at = text.index(printed)
        assert text.index("static int virtio_mem_sbm_notify_going_online(") > at
        assert text.replace(printed, "", 1) == pristine
        code, _, err = run_cli("generate", "helper", "convert-range", "--tree", str(tree))
        assert code == 2 and "already defines virtio_mem_convert_range; nothing inserted" in err
        assert (tree / src).read_text() == text
    code, _, err = run_cli("generate", "helper", "range-walker", "--tree", str(kernel_tree))
    assert code == 2 and "stays unmodified" in err
    code, _, err = run_cli("generate", "helper", "range-walker")
    assert code == 2 and "give --tree T (or --print)" in err
    assert (kernel_tree / src).read_text() == pristine
