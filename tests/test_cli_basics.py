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
