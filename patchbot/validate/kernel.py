"""The kernel-test-robot path: apply a series to a real tree, build after each patch, boot.

  1. checkpatch.pl --strict from the tree on every patch (checkpatch/TYPE findings);
  2. the workspace worktree goes to the series base (base-commit: trailer, else HEAD)
     and the base is built (incremental: the workspace keeps its O= directory), with
     `W=1 C=1` on the objects the series touches, to know the warnings already there;
  3. each patch is applied with `git am`; a patch that does not apply stops the run
     with an input error naming the patch and the hunk (exit 2).  After each patch the
     touched objects are compiled with `W=1 C=1` and bzImage is rebuilt: a build error
     or a warning that was not there before is a finding of that patch, and the run
     stops at the first patch that breaks the build;
  4. the final image boots under QEMU (patchbot.validate.qemu); a splat that names a
     source line is attributed, through `git blame` in the worktree, to the patch
     whose commit last touched that line.

Building after each patch costs one incremental build per patch (~15 s for a patch
to one driver file on two cores), and makes every attribution direct.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from patchbot.api import Finding, Location, Severity
from patchbot.errors import InputError
from patchbot.kernel import build, workspace
from patchbot.kernel.workspace import Diagnostic, Workspace
from patchbot.series.model import Patch, Series
from patchbot.validate.progress import Progress

if TYPE_CHECKING:
    from patchbot.validate.qemu import QemuBoot

log = logging.getLogger(__name__)

_BASE_COMMIT = re.compile(r"^base-commit: *([0-9a-f]{7,40})\s*$", re.M)


@dataclass
class KernelPatch:
    label: str  # Patch.label: "2/7", or the title of an unnumbered patch
    title: str
    mbox: str
    files: list[str]
    # False only for a patch `patchbot generate series` wrote without --signoff: the
    # sign-off is the author's to add, so checkpatch's MISSING_SIGN_OFF is no finding
    signoff_expected: bool = True


@dataclass
class KernelRun:
    findings: list[Finding] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    base: str = ""
    commits: list[str] = field(default_factory=list)  # one per applied patch
    compiled: dict[str, list[str]] = field(default_factory=dict)  # step -> objects make built
    boot: QemuBoot | None = None
    boot_summary: str = ""


def kernel_patches(series: Series) -> list[KernelPatch]:
    """The series' patches as mails `git am` takes (the parsed parts, re-assembled).
    A patch whose X-Patchbot-Generated header says `generate series` wrote it without
    --signoff expects no sign-off: the author adds it."""
    out = []
    for p in series.patches:
        if p.is_cover or not p.diff_text:
            continue
        files = [f.path for f in p.files if f.path]
        out.append(KernelPatch(p.label, p.title, _mbox(p), files, _signoff_expected(p)))
    return out


def _signoff_expected(p: Patch) -> bool:
    return not p.generated_by or "--signoff" in p.generated_by.split()


def _raw_texts(raw_inputs: Sequence[str]) -> list[str]:
    texts = []
    for name in raw_inputs:
        path = Path(name)
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
        elif path.is_dir():
            texts += [f.read_text(errors="replace") for f in sorted(path.glob("*.patch"))]
    return texts


def checkpatch_findings(tree: Path, patch: KernelPatch) -> list[Finding]:
    """The tree's checkpatch on one patch, less what patchbot's own output omits on
    purpose (MISSING_SIGN_OFF on a patch it generated without --signoff)."""
    from patchbot.validate.checkpatch import checkpatch

    found = checkpatch(tree, patch.label, patch.mbox)
    if not patch.signoff_expected:
        found = [f for f in found if f.rule != "checkpatch/MISSING_SIGN_OFF"]
    for f in found:
        f.patch = patch.label
    return found


def _mbox(p: Patch) -> str:
    author = (
        f"{p.author_name} <{p.author_email}>" if p.author_email else "Unknown <unknown@invalid>"
    )
    headers = [
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
        f"From: {author}",
        *([f"Date: {p.date}"] if p.date else []),
        f"Subject: [PATCH] {p.title}",
    ]
    body = p.body.strip("\n")
    diff = p.diff_text if p.diff_text.endswith("\n") else p.diff_text + "\n"
    return "\n".join(headers) + f"\n\n{body}\n---\n{diff}"


def series_base(series: Series, raw_inputs: Sequence[str] = ()) -> str | None:
    """The base-commit: trailer of the series, from any of its parts or input files."""
    texts = [t for p in series.patches for t in (p.body, p.notes, p.diff_text)]
    texts += _raw_texts(raw_inputs)
    for text in texts:
        m = _BASE_COMMIT.search(text)
        if m:
            return m.group(1)
    return None


def build_finding(rule: str, patch: str | None, diag: Diagnostic, log_at: Location) -> Finding:
    """A compiler or sparse diagnostic as a finding of ``patch``, with the make.log line
    that holds it.  The patch is a field, not part of the message: reports already group
    findings under their patch."""
    return Finding(
        rule=rule,
        severity=Severity.ERROR if diag.kind == "error" else Severity.WARNING,
        message=diag.message,
        path=diag.path,
        line=diag.line,
        patch=patch,
        related=[log_at],
    )


def order_findings(findings: list[Finding], labels: Sequence[str]) -> list[Finding]:
    """Series order, then by file and line, as lint orders its findings (checkpatch,
    build and boot findings of one patch are collected step by step)."""
    order = {label: n for n, label in enumerate(labels)}
    return sorted(
        findings,
        key=lambda f: (order.get(f.patch or "", -1), f.path, f.line, f.col, f.rule, f.message),
    )


def _new(before: Sequence[Diagnostic], after: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in ``after`` that ``before`` lacks, by text (line numbers move)."""
    left = Counter(d.key for d in before)
    new = []
    for d in after:
        if left[d.key] > 0:
            left[d.key] -= 1
        else:
            new.append(d)
    return new


def validate_kernel(
    tree: Path,
    patches: Sequence[KernelPatch],
    base: str | None = None,
    boot: bool = True,
    time_limit: float = 240.0,
    progress: Progress | None = None,
    run_checkpatch: bool = True,
) -> KernelRun:
    """Run steps 1-4 above; findings in the result, input problems raised."""
    run = KernelRun(progress=progress or Progress())
    ws = workspace.workspace_for(tree)
    for i, patch in enumerate(patches if run_checkpatch else (), start=1):
        with run.progress.step(f"checkpatch {i}/{len(patches)}") as step:
            found = checkpatch_findings(tree, patch)
            run.findings += found
            step.result = f"{len(found)} finding(s)" if found else "clean"
    with workspace.locked(ws), ExitStack() as series_obj:
        _build_series(ws, patches, base, run, series_obj)
        stopped = ("kernel/build-failed", "sandbox/")
        if boot and not any(f.rule.startswith(stopped) for f in run.findings):
            image = ws.root / "bzImage.boot"  # booted after the lock is released
            shutil.copy2(ws.bzimage, image)
            _boot(ws, image, patches, run, time_limit)
    run.findings = order_findings(run.findings, [p.label for p in patches])
    return run


def _build_series(
    ws: Workspace,
    patches: Sequence[KernelPatch],
    base: str | None,
    run: KernelRun,
    series_obj: ExitStack,
) -> None:
    log_path = ws.root / "make.log"
    log_path.write_text("")
    with run.progress.step("checkout base") as step:
        run.base = workspace.resolve_base(ws, base)
        workspace.checkout(ws, run.base)
        step.result = run.base[:12]
    # apply the whole series first, so a patch that does not apply stops the run before
    # any long build; each build step then checks out that patch's commit
    for i, patch in enumerate(patches, start=1):
        with run.progress.step(f"apply {i}/{len(patches)}"):
            run.commits.append(_am(ws, patch, i, len(patches)))
    if patches:
        workspace.git(ws.src, "checkout", "-q", "--detach", run.base)
    with run.progress.step("configure") as step:
        step.result = "configured" if workspace.configure(ws) else "cached"
    touched = sorted({f for p in patches for f in p.files})
    with run.progress.step("build base") as step:
        result = build.build_image(ws)
        MakeLog(log_path).append("base bzImage", result)
        run.compiled["base"] = result.compiled
        if not result.ok:
            why = "; ".join(f"{d.path}:{d.line}: {d.message}" for d in result.errors[:2])
            raise InputError(
                f"the base {run.base[:12]} of {ws.tree} does not build: "
                f"{why or result.tail.splitlines()[-1:]} (see {log_path})"
            )
        checked = build.check_objects(ws, build.built_objects(ws, touched))
        MakeLog(log_path).append("base W=1 C=1", checked)
        previous = checked.warnings
        step.result = f"{len(previous)} warning(s) in touched objects"
    if patches:  # the series builds in a throw-away copy of obj/ (held until the boot copy)
        with run.progress.step("fresh obj/") as step:
            step.result = f"copied in {series_obj.enter_context(workspace.series_obj(ws)):.1f} s"
    for i, (patch, commit) in enumerate(zip(patches, run.commits, strict=True), start=1):
        with run.progress.step(f"build {i}/{len(patches)}") as step:
            workspace.git(ws.src, "checkout", "-q", "--detach", commit)
            checked = build.check_objects(ws, build.built_objects(ws, touched))
            logged = MakeLog(log_path)
            logged.append(f"{patch.label} W=1 C=1", checked)
            result = build.build_image(ws) if checked.ok else checked
            if checked.ok:
                logged.append(f"{patch.label} bzImage", result)
            run.compiled[patch.label] = checked.compiled + result.compiled
            if not result.ok and result.sandbox is not None:
                rule, message = result.sandbox
                where = Diagnostic(
                    patch.files[0] if patch.files else "Makefile", 1, "error", message
                )
                run.findings.append(build_finding(rule, patch.label, where, logged.at(where)))
                step.result = f"STOPPED ({rule})"
                return
            if not result.ok:
                errors = result.errors or [
                    Diagnostic(
                        patch.files[0] if patch.files else "Makefile",
                        1,
                        "error",
                        (result.tail.splitlines() or ["make failed"])[-1],
                    )
                ]
                run.findings += [
                    build_finding("kernel/build-failed", patch.label, d, logged.at(d))
                    for d in errors
                ]
                step.result = "BUILD FAILED"
                return
            new = _new(previous, checked.warnings)
            run.findings += [
                build_finding("kernel/new-warning", patch.label, d, logged.at(d)) for d in new
            ]
            previous = checked.warnings
            step.result = f"{len(new)} new warning(s)" if new else "ok"


class MakeLog:
    """make.log: every make step of the run with its diagnostics, appended step by step;
    remembers on which of its lines each diagnostic of this step was written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[Diagnostic, int] = {}
        self.last = 1

    def append(self, what: str, result: build.MakeResult) -> None:
        text = self.path.read_text() if self.path.exists() else ""
        line = text.count("\n") + 1
        block = [f"===== {what}: {'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s"]
        for d in result.diagnostics:
            self.lines.setdefault(d, line + len(block))
            block.append(f"{d.path}:{d.line}: {d.kind}: {d.message}")
        block.append(result.tail)
        content = "\n".join(block) + "\n"
        self.last = line + content.count("\n") - 1
        with open(self.path, "a") as out:
            out.write(content)

    def at(self, diag: Diagnostic) -> Location:
        """Where make.log says it: the diagnostic's own line, else the end of make's
        output (an error with no gcc line is the last thing make printed)."""
        return Location(
            str(self.path), self.lines.get(diag, self.last), note="make's output of this step"
        )


def _am(ws: Workspace, patch: KernelPatch, index: int, total: int) -> str:
    """git am one patch; on failure abort and raise naming the file and the hunk."""
    am = workspace.git(ws.src, "am", "--keep-cr", check=False, input=patch.mbox)
    if am.returncode != 0:
        workspace.git(ws.src, "am", "--abort", check=False)
        output = am.stdout + am.stderr
        m = re.search(r"patch failed: ([^\s:]+):(\d+)", output)
        if m:
            where = f"{m.group(1)}, hunk at line {m.group(2)}"
            hunk = re.search(rf"^@@ -{m.group(2)}(?:,\d+)? .*$", patch.mbox, re.M)
            if hunk:
                where += f" ({hunk.group(0).strip()})"
        else:
            first = [ln for ln in output.splitlines() if ln.startswith("error:")]
            where = first[0].removeprefix("error: ") if first else output.strip()[-200:]
        raise InputError(
            f"patch {index}/{total} ({patch.title}) does not apply: {where}; git am aborted"
        )
    return workspace.git(ws.src, "rev-parse", "HEAD").stdout.strip()


def _blame(ws: Workspace, path: str, line: int, run: KernelRun, labels: list[str]) -> str | None:
    """The label of the patch whose commit last touched ``path:line``, if any."""
    if not (ws.src / path).is_file():
        return None
    proc = workspace.git(
        ws.src, "blame", "--porcelain", "-L", f"{line},{line}", "HEAD", "--", path, check=False
    )
    sha = proc.stdout.split(" ", 1)[0] if proc.returncode == 0 else ""
    return labels[run.commits.index(sha)] if sha in run.commits else None


def _boot(
    ws: Workspace, image: Path, patches: Sequence[KernelPatch], run: KernelRun, limit: float
) -> None:
    from patchbot.validate.qemu import boot_qemu

    with run.progress.step("boot + resize + dma-heap") as step:
        result = boot_qemu(image, ws.root / "boot", tree=ws.src, time_limit=limit)
        labels = [p.label for p in patches]
        for f in result.findings:
            if not f.path.endswith("console.log"):
                f.patch = _blame(ws, f.path, f.line, run, labels)
        run.findings += result.findings
        run.boot = result
        step.result = f"{len(result.findings)} finding(s)" if result.findings else "clean"
        run.boot_summary = (
            f"qemu: {result.seconds:.1f} s; virtio_mem bound to "
            f"{', '.join(result.bound) or 'nothing'}; MemTotal {result.memtotal_kb} kB "
            f"(+{result.growth_kb} kB at boot), grow -> {result.memtotal_grow_kb} kB, "
            f"shrink -> {result.memtotal_shrink_kb} kB; dma-heap {result.dmaheap}; "
            f"console {result.console_path}"
        )
