"""Core of the model: page-state edges, gcc diagnostics, build failures as results."""

from __future__ import annotations

import pytest

from patchbot.model.bridge import Event
from patchbot.model.build import BuildFailure, build_driver, parse_diagnostics
from patchbot.model.state import PLATFORMS, Mem, Owner, PageModel, Violation, ViolationError


def _model(platform: str) -> PageModel:
    m = PageModel(PLATFORMS[platform])
    m.add_region(0x1000, 32, backed=False, mem=Mem.UNACCEPTED, owner=Owner.OFFLINE)
    return m


def test_tdx_accept_then_buddy_is_clean_and_double_accept_is_caught() -> None:
    m = _model("tdx")
    m.host_plug(0x1000, 16)
    m.convert(0x1000, 16, True, False, "set_memory_encrypted")
    m.to_buddy(0x1000, 16, "generic_online_page")
    assert m.owners(0x1000, 16) == {Owner.BUDDY}
    m2 = _model("tdx")
    m2.host_plug(0x1000, 4)
    m2.convert(0x1000, 4, True, False, "set_memory_encrypted")
    with pytest.raises(ViolationError) as exc:
        m2.convert(0x1000, 4, True, False, "set_memory_encrypted")
    assert exc.value.violation.name == "double-accept"


def test_unaccepted_to_buddy_only_on_coco() -> None:
    plain = _model("none")
    plain.host_plug(0x1000, 4)
    plain.to_buddy(0x1000, 4, "generic_online_page")
    snp = _model("snp")
    snp.host_plug(0x1000, 4)
    with pytest.raises(ViolationError) as exc:
        snp.to_buddy(0x1000, 4, "generic_online_page")
    assert exc.value.violation.name == "unaccepted-to-buddy"


def test_failed_conversion_makes_pages_unknown_and_unfreeable() -> None:
    m = _model("tdx")
    m.host_plug(0x1000, 4)
    m.convert(0x1000, 4, True, False, "set_memory_encrypted")
    m.set_owner(0x1000, 4, Owner.ALLOCATED)
    m.convert(0x1000, 4, False, True, "set_memory_decrypted")
    assert {Mem(m.mem[i]) for i in range(4)} == {Mem.UNKNOWN}
    with pytest.raises(ViolationError) as exc:
        m.to_buddy(0x1000, 4, "free_contig_range")
    assert exc.value.violation.name == "free-after-failed-conversion"


def test_unplug_private_memory_breaks_the_host_profile() -> None:
    m = _model("tdx")
    m.host_plug(0x1000, 4)
    m.convert(0x1000, 4, True, False, "set_memory_encrypted")
    with pytest.raises(ViolationError) as exc:
        m.host_unplug(0x1000, 4)
    assert exc.value.violation.name == "unplug-private"
    m.convert(0x1000, 4, False, False, "set_memory_decrypted")
    m.host_unplug(0x1000, 4)
    assert m.backed[0] == 0


def test_cancel_must_convert_back_what_going_online_accepted() -> None:
    m = _model("tdx")
    m.host_plug(0x1000, 8)
    before = m.snapshot(0x1000, 8)
    m.convert(0x1000, 8, True, False, "set_memory_encrypted")
    with pytest.raises(ViolationError) as exc:
        m.check_undone(0x1000, 8, before, "MEM_CANCEL_ONLINE")
    assert exc.value.violation.name == "cancel-without-undo"
    assert exc.value.violation.pfn == 0x1000
    m.convert(0x1000, 8, False, False, "set_memory_decrypted")
    m.check_undone(0x1000, 8, before, "MEM_CANCEL_ONLINE")  # shared again: undone
    plain = _model("none")
    plain.host_plug(0x1000, 8)
    plain.check_undone(0x1000, 8, plain.snapshot(0x1000, 8), "MEM_CANCEL_ONLINE")


def test_unplug_names_a_failed_conversion_only_when_made_for_this_unplug() -> None:
    m = _model("snp")
    m.host_plug(0x1000, 8)
    m.convert(0x1000, 8, True, False, "set_memory_encrypted")
    m.begin_operation()
    m.convert(0x1000, 8, False, True, "set_memory_decrypted")  # fails for this unplug
    with pytest.raises(ViolationError) as exc:
        m.host_unplug(0x1000, 8)
    assert exc.value.violation.name == "unplug-after-failed-conversion"
    m.begin_operation()  # a later operation unplugs without converting again
    with pytest.raises(ViolationError) as exc:
        m.host_unplug(0x1000, 8)
    assert exc.value.violation.name == "unplug-private"
    m.convert(0x1000, 8, False, False, "set_memory_decrypted")
    m.host_unplug(0x1000, 8)
    assert m.backed[0] == 0


def test_gcc_diagnostics_name_the_missing_symbol() -> None:
    err = (
        "x/virtio_mem.c:12:5: error: implicit declaration of function "
        "\u2018frob_pages\u2019 [-Werror=implicit-function-declaration]\n"
        "x/virtio_mem.c:14:9: error: \u2018FROB_MAX\u2019 undeclared (first use)\n"
    )
    missing, errors, first = parse_diagnostics(err, "virtio_mem.c")
    assert missing == ["frob_pages", "FROB_MAX"]
    assert first == 12 and len(errors) == 2


@pytest.mark.kernel_tree
def test_driver_calling_an_unknown_api_is_a_build_result(kernel_tree, tmp_path) -> None:
    text = (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    patched = text.replace(
        "\tvirtio_device_ready(vdev);\n",
        "\tvirtio_device_ready(vdev);\n\tmemblock_frobnicate(vm->addr);\n",
        1,
    )
    assert patched != text
    src = tmp_path / "virtio_mem.c"
    src.write_text(patched)
    result = build_driver(src, kernel_tree, "virtio_mem", "drivers/virtio/virtio_mem.c")
    assert isinstance(result, BuildFailure)
    assert result.missing == ["memblock_frobnicate"]
    assert "shim needs memblock_frobnicate" in result.message()


@pytest.mark.kernel_tree
def test_driver_that_loops_forever_is_a_hang_with_its_last_events(kernel_tree, tmp_path) -> None:
    from patchbot.model.drivers import get
    from patchbot.model.runner import run_one

    text = (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    patched = text.replace(
        "\tvirtio_device_ready(vdev);\n",
        "\tvirtio_device_ready(vdev);\n\tfor (;;)\n\t\tbarrier();\n",
        1,
    )
    src = tmp_path / "virtio_mem.c"
    src.write_text(patched)
    built = build_driver(src, kernel_tree, "virtio_mem", "drivers/virtio/virtio_mem.c")
    assert not isinstance(built, BuildFailure), built
    result = run_one(get("virtio-mem"), built.so_path, "none", "lifecycle-sbm", time_limit=1.0)
    assert result.violation is not None and result.violation.name == "hang"
    assert result.violation.trace[-1].func.startswith("virtio_mem_")


def _violation_on(platform: str) -> Violation:
    """The unaccepted-to-buddy violation as the model raises it on ``platform``."""
    m = _model(platform)
    m.host_plug(0x1000, 4)
    with pytest.raises(ViolationError) as exc:
        m.to_buddy(0x1000, 4, "generic_online_page")
    return exc.value.violation


def _events(n: int) -> list[Event]:
    return [Event(i, "kzalloc", "demo_probe", 10 + i, (0, 0, 0, 0)) for i in range(n)]


def test_a_finding_merged_across_platforms_names_each_platforms_term() -> None:
    from patchbot.model.findings import to_findings
    from patchbot.model.runner import RunResult

    source = "static int demo_probe(struct demo *d)\n{\n}\n" + "\n" * 60
    runs = []
    for platform in ("tdx", "snp"):
        violation = _violation_on(platform)
        violation.trace = _events(3)
        runs.append(RunResult("lifecycle", platform, None, [violation]))
    (finding,) = to_findings(runs, "drivers/demo.c", source)
    assert finding.platform == "tdx,snp"
    assert "TDG.MEM.PAGE.ACCEPT" in finding.message and "PVALIDATE" in finding.message
    assert "(TDG.MEM.PAGE.ACCEPT on tdx, PVALIDATE on snp)" in finding.message
    # one platform: its own term only
    (alone,) = to_findings(runs[1:], "drivers/demo.c", source)
    assert "PVALIDATE" in alone.message and "TDG" not in alone.message


def test_a_trace_cut_at_its_start_says_how_many_events_it_left_out() -> None:
    from patchbot.model.bridge import TRACE_LEN, Session
    from patchbot.model.findings import to_findings
    from patchbot.model.runner import RunResult

    source = "static int demo_probe(struct demo *d)\n{\n}\n" + "\n" * 80
    for total, dropped in ((TRACE_LEN + 16, 16), (TRACE_LEN, 0)):
        session = Session(PageModel(PLATFORMS["tdx"]), {}, {})
        session.events = _events(total)
        violation = _violation_on("tdx")
        session.record(violation, session.events[-1])
        (finding,) = to_findings(
            [RunResult("s", "tdx", None, [violation])], "drivers/demo.c", source
        )
        notes = [loc.note for loc in finding.trace]
        if dropped:
            assert len(notes) == TRACE_LEN + 1
            assert (
                notes[0] == f"... {dropped} earlier events (the trace keeps the last {TRACE_LEN})"
            )
        else:
            assert len(notes) == TRACE_LEN and not notes[0].startswith("...")
