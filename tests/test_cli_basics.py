from __future__ import annotations


def test_unknown_subcommand_is_usage_error(run_cli):
    code, _out, err = run_cli("frobnicate")
    assert code == 2
    assert "error" in err and "Traceback" not in err


def test_version(run_cli):
    code, out, _err = run_cli("--version")
    assert code == 0
    assert out.startswith("patchbot ")


def test_default_kernel_tree_has_both_drivers(kernel_tree):
    assert (kernel_tree / "drivers/virtio/virtio_mem.c").is_file()
    assert (kernel_tree / "drivers/dma-buf/heaps/system_heap.c").is_file()
    assert (kernel_tree / "scripts/checkpatch.pl").is_file()


def test_c_file_that_does_not_parse_is_linted_with_a_warning(run_cli, tmp_path):
    broken = tmp_path / "broken.c"
    broken.write_text("static int f(void)\n{\n\treturn set_memory_decrypted(addr,\n")
    code, _out, err = run_cli("lint", "--file", str(broken))
    assert code == 0
    assert f"{broken}: " in err and "do not parse as C" in err
    assert "Traceback" not in err


def test_real_kernel_file_parses_without_a_warning(run_cli, kernel_tree):
    code, _out, err = run_cli(
        "lint", "--file", str(kernel_tree / "kernel/dma/direct.c"), "--select", "leak-on-failure"
    )
    assert code == 0, err
    assert "do not parse" not in err


def test_building_the_parser_does_not_load_the_model_or_the_kernel_build():
    """Every start builds all subcommands' parsers; `lint` must not pay for the model."""
    import subprocess
    import sys

    probe = (
        "import sys; from patchbot import cli; cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith(('patchbot.model.', "
        "'patchbot.validate.', 'patchbot.kernel.build'))))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    # drivers and platforms hold the names the parsers offer as choices: nothing else
    assert proc.stdout.strip() == "['patchbot.model.drivers', 'patchbot.model.platforms']"


def _parsers():
    """(command path, parser) for patchbot and every subcommand below it."""
    import argparse

    from patchbot.cli import build_parser

    todo = [("patchbot", build_parser())]
    while todo:
        path, parser = todo.pop()
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += [(f"{path} {name}", sub) for name, sub in action.choices.items()]


def test_every_command_has_a_description_and_every_option_a_help_text():
    import argparse

    missing = []
    for path, parser in _parsers():
        if not parser.description:
            missing.append(f"{path}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):  # its help is its commands'
                missing += [
                    f"{path} {a.dest}: no help" for a in action._choices_actions if not a.help
                ]
            elif not action.help and action.dest != "help":
                missing.append(f"{path}: {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_boot_help_says_driver_is_required_without_qemu(run_cli):
    code, out, _err = run_cli("boot", "--help")
    assert code == 0
    driver = out.split("--driver", 2)[2].split("\n  -")[0]
    assert "required" in driver and "--qemu" in driver
    assert "virtio-mem" in driver and "system-heap" in driver


def test_generate_helper_help_lists_the_helpers_and_their_parameters(run_cli):
    from patchbot.generate.features import FEATURES, HELPERS

    code, out, _err = run_cli("generate", "helper", "--help")
    assert code == 0
    for name, helper in HELPERS.items():
        assert name in out and helper.summary in " ".join(out.split())
        for param, default in FEATURES[helper.feature].params.items():
            assert f"{param}={default}" in out
    code, out, _err = run_cli("generate", "series", "--help")
    for name in FEATURES:
        assert name in out


def test_bare_patchbot_prints_the_command_overview(run_cli):
    from patchbot.cli import subcommands

    code, out, err = run_cli()
    assert code == 2 and err == ""
    for name in subcommands():
        assert f"\n    {name} " in out
    assert "patchbot COMMAND --help" in out


def test_mistyped_command_suggests_the_nearest(run_cli):
    code, out, err = run_cli("lnit", "x.mbox")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "did you mean 'lint'?" in err
    code, _out, err = run_cli("validate", "--format", "jsn")
    assert code == 2 and "did you mean 'json'?" in err
