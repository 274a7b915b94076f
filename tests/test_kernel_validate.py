"""`patchbot validate --kernel`: git am in a worktree, build per patch, boot under QEMU.

The slow tests share the workspace of the cached linux-source-6.1 (one cold build,
~3-10 min, then seconds per patch); each fixture series is two patches of our own.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from patchbot.kernel.workspace import REQUIRED_OPTIONS, workspace_for
from patchbot.validate.checkpatch import checkpatch, parse_checkpatch
from patchbot.validate.kernel import KernelPatch, series_base, validate_kernel
from patchbot.validate.progress import Progress
from patchbot.validate.qemu import QemuBoot, judge

SERIES = Path(__file__).parent / "fixtures" / "kernel_series"
SRC = "drivers/virtio/virtio_mem.c"
RESIZE_KB = 256 * 1024


def _post_image(kernel_tree: Path, tmp_path: Path, series: Path) -> list[str]:
    """The driver after the series, by patch(1) on a copy: the reference for line numbers."""
    work = tmp_path / "post"
    (work / SRC).parent.mkdir(parents=True)
    shutil.copy(kernel_tree / SRC, work / SRC)
    for patch in sorted(series.glob("*.patch")):
        subprocess.run(["patch", "-p1", "-s", "-d", str(work), "-i", str(patch)], check=True)
    return (work / SRC).read_text().splitlines()


def test_progress_prints_a_line_per_step_and_a_table_without_control_codes():
    out = io.StringIO()  # not a TTY: no spinner
    progress = Progress(stream=out)
    with progress.step("build 1/2") as step:
        step.result = "2 new warning(s)"
    with pytest.raises(RuntimeError), progress.step("boot"):
        raise RuntimeError("qemu died")
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"\[\s*\d+\.\ds\] build 1/2: 2 new warning\(s\) \(\d+\.\d s\)", lines[0])
    assert lines[1].split("] ")[1].startswith("boot: error")
    assert "\033" not in out.getvalue() and "\r" not in out.getvalue()
    table = progress.table().splitlines()
    assert table[0].split() == ["step", "result", "seconds"]
    assert table[1].startswith("build 1/2") and table[2].startswith("boot ")
    assert table[-1].startswith("total")


def _judged(tmp_path: Path, body: str) -> QemuBoot:
    path = tmp_path / "console.log"
    path.write_text(body)
    boot = QemuBoot(body, path, 1.0, timed_out=False)
    judge(boot, 256, 60, dmaheap_expected=True)
    return boot


GOOD_START = (
    "[    0.000000] Memory: 480000K/523768K available (1000K kernel code)\n"
    "PATCHBOT-MEMTOTAL-FIRST-KB=482000\n"
    "PATCHBOT-MEMTOTAL-KB=770000\n"
    "PATCHBOT-VIRTIO-MEM-DRIVER=yes\nPATCHBOT-VIRTIO-MEM-BOUND=virtio0\n"
)


def test_console_with_a_clean_resize_has_no_finding(tmp_path):
    body = GOOD_START + (
        "PATCHBOT-DMAHEAP=PASS 4194304 bytes\n"
        "PATCHBOT-RESIZE-READY=grow\nPATCHBOT-MEMTOTAL-grow-KB=1032144\n"
        "PATCHBOT-RESIZE-READY=shrink\nPATCHBOT-MEMTOTAL-shrink-KB=770000\nPATCHBOT-DONE\n"
    )
    boot = _judged(tmp_path, body)
    assert boot.findings == []
    assert (boot.memtotal_grow_kb, boot.memtotal_shrink_kb) == (1032144, 770000)


def test_console_where_unplug_fails_and_lockdep_splats(tmp_path):
    body = GOOD_START + (
        "PATCHBOT-DMAHEAP=FAIL DMA_HEAP_IOCTL_ALLOC: Cannot allocate memory\n"
        "PATCHBOT-RESIZE-READY=grow\nPATCHBOT-MEMTOTAL-grow-KB=1032144\n"
        "PATCHBOT-RESIZE-READY=shrink\n"
        "[   9.1] WARNING: possible circular locking dependency detected\n"
        "[   9.1] 6.1.192 #1 Not tainted\n"
        "[   9.1] ------------------------------------------------------\n"
        "PATCHBOT-MEMTOTAL-shrink-KB=1032144\nPATCHBOT-DONE\n"
    )
    boot = _judged(tmp_path, body)
    rules = {f.rule: f for f in boot.findings}
    assert set(rules) == {"dma-heap-failed", "memory-not-unplugged", "qemu-lockdep"}
    assert "Cannot allocate memory" in rules["dma-heap-failed"].message
    lockdep = rules["qemu-lockdep"]
    # the excerpt runs from the splat to the next guest marker
    notes = [loc.note for loc in lockdep.trace]
    assert "circular locking" in notes[notes.index(lockdep.trace[-1].note) - 3]
    assert notes[-1].startswith("PATCHBOT-MEMTOTAL-shrink")


def test_base_commit_trailer_is_found_in_the_series_files(tmp_path):
    from patchbot.validate.apply import read_series

    text = SERIES / "unplug-warn" / "0002-virtio-mem-warn-once-on-the-first-unplug-request.patch"
    patched = text.read_text().replace("\n-- \n", "\nbase-commit: 0123456789abcdef\n-- \n")
    if "base-commit" not in patched:  # format-patch without a signature
        patched = patched.rstrip("\n") + "\n\nbase-commit: 0123456789abcdef\n"
    (tmp_path / "p.patch").write_text(patched)
    series = read_series([str(tmp_path / "p.patch")])
    assert series_base(series, [str(tmp_path / "p.patch")]) == "0123456789abcdef"
    plain = read_series([str(text)])
    assert series_base(plain, [str(text)]) is None


def test_build_warnings_read_as_findings_of_their_patch(tmp_path):
    """A new W=1 warning reads like lint's findings: under its patch's header without
    repeating the label, pointing at its own make.log line, no model platform/fault,
    sorted by line whatever order make printed it in."""
    from patchbot.engine import LintResult
    from patchbot.kernel.build import MakeResult
    from patchbot.kernel.workspace import Diagnostic
    from patchbot.report import render
    from patchbot.validate.apply import read_series
    from patchbot.validate.kernel import MakeLog, build_finding, order_findings

    series = read_series([str(SERIES / "w1-warning")])
    log = MakeLog(tmp_path / "make.log")
    log.append("base W=1 C=1", MakeResult(True, 1.0, [], "  CC      drivers/virtio/virtio_mem.o"))
    late = Diagnostic(SRC, 900, "warning", "no previous prototype for 'virtio_mem_b'")
    early = Diagnostic(SRC, 120, "warning", "symbol 'virtio_mem_a' was not declared")
    log.append("1/2 W=1 C=1", MakeResult(True, 2.0, [late, early], "make: done\nreally"))
    found = [build_finding("kernel/new-warning", "1/2", d, log.at(d)) for d in (late, early)]
    text = render(
        LintResult(findings=order_findings(found, ["1/2", "2/2"]), series=series, mode="series"),
        "text",
    )
    lines = text.splitlines()
    assert lines[0].startswith("[PATCH 1/2] ")
    assert lines[1].startswith(f"{SRC}:120:1: warning: symbol 'virtio_mem_a' was not declared")
    assert lines[3].startswith(f"{SRC}:900:1: warning: no previous prototype")
    assert "platform" not in text and "fault" not in text and "1/2:" not in text
    logged = (tmp_path / "make.log").read_text().splitlines()
    for finding, diag in zip(found, (late, early), strict=True):
        at = finding.related[0]
        assert at.path.endswith("make.log") and logged[at.line - 1].endswith(diag.message)
        assert f"make.log:{at.line}:1: note: " in text


@pytest.mark.kernel_tree
def test_checkpatch_from_the_tree_maps_types_to_rules(kernel_tree):
    mbox = (
        "From: Patchbot Fixture <fixture@example.org>\n"
        "Subject: [PATCH] virtio-mem: fixture\n\nA body that says why.\n\n"
        "Signed-off-by: Patchbot Fixture <fixture@example.org>\n---\n"
        f"diff --git a/{SRC} b/{SRC}\n--- a/{SRC}\n+++ b/{SRC}\n"
        "@@ -2256,3 +2256,4 @@ static int virtio_mem_unplug_request(struct virtio_mem *vm,\n"
        " {\n+\tif (diff == 0) return 0;\n \tif (vm->in_sbm)\n"
        " \t\treturn virtio_mem_sbm_unplug_request(vm, diff);\n"
    )
    findings = checkpatch(kernel_tree, "1/1", mbox)
    rules = {f.rule: f for f in findings}
    assert "checkpatch/TRAILING_STATEMENTS" in rules, findings
    f = rules["checkpatch/TRAILING_STATEMENTS"]
    assert (f.path, f.line) == (SRC, 2257) and not f.message.startswith("1/1")


def test_checkpatch_commit_message_lines_are_parsed_with_their_empty_path():
    # checkpatch --terse --showfile prints commit-message findings with an empty path
    # and a line number that counts nothing; the sign-off check carries the diff's last
    # file and line (both as the 6.1 checkpatch printed them on the bundled example)
    mbox = (
        "From: A Dev <dev@example.org>\nSubject: [PATCH 2/3] virtio-mem: accept it\n\n"
        'Accept plugged memory.\n\nFixes: 5f1f79b ("virtio-mem: x")\n'
        "Assisted-by: Claude (claude-opus-4-6)\n---\n"
        f"diff --git a/{SRC} b/{SRC}\n"
    )
    output = (
        ":1743: WARNING:BAD_FIXES_TAG: Please use correct Fixes: style 'Fixes: <12 chars "
        'of sha1> ("<title line>")\' - ie: \'Fixes: f35b04d52338 ("linux")\'\n'
        ":1743: WARNING:UNKNOWN_COMMIT_ID: Unknown commit id '5f1f79b', maybe rebased or "
        "not pulled?\n"
        ":1743: WARNING:BAD_SIGN_OFF: Assisted-by expects 'AGENT_NAME:MODEL_VERSION [TOOL1] "
        "[TOOL2]' format\n"
        f"{SRC}:2024: ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)\n"
        f"{SRC}:832: CHECK:PREFER_KERNEL_TYPES: Prefer kernel type 'u64' over 'uint64_t'\n"
    )
    found = {f.rule.removeprefix("checkpatch/"): f for f in parse_checkpatch(output, mbox)}
    where = {rule: (f.path, f.line) for rule, f in found.items()}
    assert where == {
        "BAD_FIXES_TAG": ("COMMIT_MSG", 5),
        "UNKNOWN_COMMIT_ID": ("COMMIT_MSG", 5),
        "BAD_SIGN_OFF": ("COMMIT_MSG", 6),
        "MISSING_SIGN_OFF": ("COMMIT_MSG", 6),
        "PREFER_KERNEL_TYPES": (SRC, 832),
    }
    assert found["UNKNOWN_COMMIT_ID"].message.startswith("Unknown commit id '5f1f79b'")


@pytest.mark.kernel_tree
def test_checkpatch_of_the_example_reports_its_commit_message_findings(kernel_tree):
    """The bundled example through the tree's checkpatch.pl --strict: patch 2/3's
    Fixes: and Assisted-by: findings, and 3/3's missing sign-off (a contributor's patch,
    not one patchbot generated), at the COMMIT_MSG lines lint reports them on."""
    from patchbot.validate.apply import read_series
    from patchbot.validate.kernel import checkpatch_findings, kernel_patches

    example = str(Path(__file__).parent.parent / "examples" / "virtio-mem-coco-rfc.mbox")
    patches = kernel_patches(read_series([example]))
    assert [p.signoff_expected for p in patches] == [True, True, True]
    second = {f.rule: f for f in checkpatch_findings(kernel_tree, patches[1])}
    assert {r: (f.path, f.line, f.patch) for r, f in second.items()} == {
        "checkpatch/BAD_FIXES_TAG": ("COMMIT_MSG", 8, "2/3"),
        "checkpatch/UNKNOWN_COMMIT_ID": ("COMMIT_MSG", 8, "2/3"),
        "checkpatch/BAD_SIGN_OFF": ("COMMIT_MSG", 9, "2/3"),
    }
    third = {f.rule: f for f in checkpatch_findings(kernel_tree, patches[2])}
    assert (
        third["checkpatch/MISSING_SIGN_OFF"].path,
        third["checkpatch/MISSING_SIGN_OFF"].line,
    ) == ("COMMIT_MSG", 6)


def test_validate_kernel_of_a_directory_that_is_no_kernel_tree(run_cli, tmp_path):
    code, out, err = run_cli("validate", "--kernel", "--tree", str(tmp_path))
    assert code == 2 and out == ""
    assert "not an x86-capable kernel tree" in err and "Traceback" not in err


def test_validate_without_series_or_kernel_is_an_input_error(run_cli):
    code, _, err = run_cli("validate")
    assert code == 2 and "needs a SERIES" in err


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_unknown_base_commit_is_one_line_and_exit_2(run_cli, kernel_tree, tmp_path):
    src = SERIES / "unplug-warn" / "0001-virtio-mem-document-the-unit-of-an-unplug-request.patch"
    (tmp_path / "p.patch").write_text(src.read_text() + "\nbase-commit: " + "e" * 40 + "\n")
    code, out, err = run_cli("validate", "--kernel", "--tree", "6.1", str(tmp_path / "p.patch"))
    assert code == 2 and out == "", err
    last = err.strip().splitlines()[-1]
    assert last == f"patchbot: error: base-commit {'e' * 40} is not a commit in {kernel_tree}"


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_patch_that_does_not_apply_names_patch_and_hunk_and_aborts(run_cli, kernel_tree, tmp_path):
    for patch in sorted((SERIES / "build-break").glob("*.patch")):
        text = patch.read_text()
        if patch.name.startswith("0002"):  # context the tree does not have
            text = text.replace(" \tif (vm->in_sbm)\n", " \tif (vm->in_bbm_mode)\n", 1)
        (tmp_path / patch.name).write_text(text)
    code, out, err = run_cli("validate", "--kernel", "--tree", "6.1", str(tmp_path))
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("patchbot: error: patch 2/2 (virtio-mem: refuse unplug requests")
    hunk = re.search(r"^@@ -(\d+),.*@@.*$", text, re.M)
    assert hunk is not None
    assert f"does not apply: {SRC}, hunk at line {hunk[1]} ({hunk[0].strip()})" in last
    assert "git am aborted" in last and "Traceback" not in err
    ws = workspace_for(kernel_tree)
    gitdir = subprocess.run(
        ["git", "-C", str(ws.src), "rev-parse", "--git-dir"], capture_output=True, text=True
    ).stdout.strip()
    assert not (Path(gitdir) / "rebase-apply").exists()  # the am was aborted
    assert "build" not in err.split("patchbot: error")[0]  # stopped before building


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_bare_tree_builds_and_boots_clean_with_plug_and_unplug(kernel_tree):
    run = validate_kernel(kernel_tree, [])
    boot = run.boot
    assert boot is not None
    tail = "\n".join(boot.console.splitlines()[-30:])
    assert run.findings == [], ([f.message for f in run.findings], tail)
    config = workspace_for(kernel_tree).config.read_text().splitlines()
    assert all(opt in config for opt in REQUIRED_OPTIONS)
    assert not (kernel_tree / ".config").exists()  # the tree itself is never built in
    assert boot.bound == ["virtio0"] and boot.dmaheap and boot.dmaheap.startswith("PASS")
    assert boot.resized == ["grow", "shrink"]
    assert boot.memtotal_kb and boot.memtotal_grow_kb and boot.memtotal_shrink_kb is not None
    assert boot.memtotal_grow_kb - boot.memtotal_kb >= RESIZE_KB - 8 * 1024, tail
    assert boot.memtotal_grow_kb - boot.memtotal_shrink_kb >= RESIZE_KB - 8 * 1024, tail


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_series_that_breaks_the_build_in_patch_2_is_attributed_to_it(
    run_cli, kernel_tree, tmp_path
):
    series = SERIES / "build-break"
    code, out, err = run_cli(
        "validate", "--kernel", "--tree", "6.1", str(series), "--format", "json"
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert {f["rule"] for f in findings} == {"kernel/build-failed"}, findings
    first = findings[0]
    assert first["patch"]["label"] == "2/2"
    assert "refuse unplug requests" in first["patch"]["subject"]
    assert first["path"] == SRC and "virtio_mem_unplug_range_ok" in first["message"]
    post = _post_image(kernel_tree, tmp_path, series)
    assert "virtio_mem_unplug_range_ok" in post[first["line"] - 1]
    assert re.search(r"build 1/2: ok", err) and "build 2/2: BUILD FAILED" in err
    assert "boot" not in err  # a kernel that does not build is not booted


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_w1_warning_of_patch_1_is_new_and_attributed_and_rebuild_is_incremental(kernel_tree):
    from patchbot.validate.apply import read_series
    from patchbot.validate.kernel import kernel_patches

    patches: list[KernelPatch] = kernel_patches(read_series([str(SERIES / "w1-warning")]))
    run = validate_kernel(kernel_tree, patches, boot=False)
    by_rule = {(f.rule, f.patch) for f in run.findings}
    assert by_rule == {("kernel/new-warning", "1/2")}, [f.message for f in run.findings]
    messages = " ".join(f.message for f in run.findings)
    assert "no previous prototype for" in messages and "virtio_mem_plugged_bytes" in messages
    # C=1: sparse (installed by the setup) says it too, in its own words
    assert "symbol 'virtio_mem_plugged_bytes' was not declared. Should it be static?" in messages
    # each names its make.log line, carries no model platform, and they come in line order
    for f in run.findings:
        assert f.platform is None and not f.message.startswith("1/2")
        logged = Path(f.related[0].path).read_text().splitlines()
        assert logged[f.related[0].line - 1].endswith(f.message)
    assert [f.line for f in run.findings] == sorted(f.line for f in run.findings)
    # the base build had the same object compiled with W=1 and did not warn: only new ones
    assert all(f.path == SRC for f in run.findings)
    # only the patched driver recompiles at each step, not the kernel: besides it, make
    # rebuilds the prepare-stage files W=1 changes the flags of, and the link-time objects
    always = (
        "scripts/",
        "init/version",
        "arch/x86/boot/",
        "kernel/bounds.s",
        "arch/x86/kernel/asm",
    )
    for label in ("1/2", "2/2"):
        rest = {c for c in run.compiled[label] if not c.startswith(always)}
        assert rest == {"drivers/virtio/virtio_mem.o"}, run.compiled
        assert len(run.compiled[label]) < 20, run.compiled


@pytest.mark.kernel_tree
@pytest.mark.slow
@pytest.mark.qemu
def test_unplug_warn_at_run_time_is_found_and_attributed_to_patch_2(run_cli, kernel_tree, tmp_path):
    series = SERIES / "unplug-warn"
    code, out, err = run_cli(
        "validate", "--kernel", "--tree", "6.1", str(series), "--format", "json"
    )
    assert code == 1, err
    findings = json.loads(out)["findings"]
    assert [f["rule"] for f in findings] == ["qemu-warning"], findings
    warning = findings[0]
    post = _post_image(kernel_tree, tmp_path, series)
    assert warning["path"] == SRC and post[warning["line"] - 1].strip() == "WARN_ON_ONCE(diff);"
    assert warning["patch"]["label"] == "2/2"
    excerpt = [loc["note"] for loc in warning["trace"]]
    assert any("cut here" in n for n in excerpt) and any("end trace" in n for n in excerpt)
    # the warning came from the resize down, and memory still went away
    assert "shrink -> " in err and "dma-heap PASS" in err
