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
