"""The generated series on Debian's linux-source-6.1 and -6.12: shape, git am, checkpatch,
lint, model.

Each feature is generated once per session into a `git clone --shared` of the cached
tree (so its base-commit also exists in the cached tree, which the real-kernel test in
test_generate_kernel.py builds).  Bad input runs against the same clone and small git
repositories, and checks that the tree is exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kernel_tree, pytest.mark.slow]

FEATURES = {
    "virtio-mem-coco": ("drivers/virtio/virtio_mem.c", "virtio-mem: "),
    "dma-buf-shared-heap": ("drivers/dma-buf/heaps/system_heap.c", "dma-buf: heaps: "),
}
NAME, EMAIL = "Gen Tester", "gen.tester@example.org"
ASSISTED = "Claude:claude-opus-4-6"


def patchbot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchbot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def snapshot(repo: Path) -> tuple[str, str, str, str]:
    """What the user would notice: HEAD, the checked-out branch, status, the branch list."""
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "-q", "HEAD", check=False),
        git(repo, "status", "--porcelain"),
        git(repo, "branch", "--list"),
    )


@pytest.fixture(scope="session", params=("6.1", "6.12"))
def embedded(request: pytest.FixtureRequest) -> Path:
    """Each embedded tree in turn: the series are generated, applied, linted, booted in
    the model and built under QEMU on both (6.12 spells system_heap_allocate's flags
    u32/u64; placement by parsing carries)."""
    from patchbot.kernel.tree import tree_for

    return tree_for(request.param)


@pytest.fixture(scope="session")
def git_tree(embedded: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from patchbot.kernel.workspace import ensure_git

    ensure_git(embedded)  # the cached tree becomes a git repository once
    dest = tmp_path_factory.mktemp(f"generate-{embedded.name}") / "linux"
    git(embedded, "clone", "-q", "--shared", str(embedded), str(dest))
    git(dest, "config", "user.name", NAME)
    git(dest, "config", "user.email", EMAIL)
    return dest


@pytest.fixture(scope="session")
def generated(git_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for feature in FEATURES:
        outdir = tmp_path_factory.mktemp(feature)
        proc = patchbot(
            "generate", "series", feature, "--tree", str(git_tree), "--branch", f"gen/{feature}",
            "-o", str(outdir), "--signoff", "--assisted-by", ASSISTED,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out[feature] = outdir
    return out


def patches(outdir: Path) -> list[Path]:
    found = sorted(outdir.glob("0*.patch"))
    assert found[0].name == "0000-cover-letter.patch"
    return found[1:]


@pytest.mark.parametrize("feature", FEATURES)
def test_series_shape(git_tree: Path, generated: dict[str, Path], feature: str):
    path, prefix = FEATURES[feature]
    base = git(git_tree, "rev-parse", "HEAD").strip()
    cover = (generated[feature] / "0000-cover-letter.patch").read_text()
    assert "*** SUBJECT HERE ***" not in cover and "*** BLURB HERE ***" not in cover
    assert re.search(rf"^Subject: \[PATCH 0/2\] {re.escape(prefix)}", cover, re.M)
    assert "Open questions:" in cover
    assert f"\nbase-commit: {base}\n" in cover
    for i, patch in enumerate(patches(generated[feature]), 1):
        text = patch.read_text()
        assert re.search(rf"^Subject: \[PATCH {i}/2\] {re.escape(prefix)}\S", text, re.M)
        assert f"\nAssisted-by: {ASSISTED}\nSigned-off-by: {NAME} <{EMAIL}>\n---\n" in text
        assert f"diff --git a/{path} b/{path}" in text
        body = text.split("\n\n", 1)[1].split("\n---\n")[0]
        assert len(body.split("\n\n")) >= 2, "a body that says why, not just trailers"
        assert all(len(line) <= 75 for line in body.splitlines())
    # the branch holds the commits; the checked-out branch and worktree did not move
    assert git(git_tree, "rev-list", "--count", f"HEAD..gen/{feature}").strip() == "2"
    assert git(git_tree, "status", "--porcelain") == ""


def test_missing_signoff_is_dropped_only_where_patchbot_left_it_out(
    git_tree: Path, generated: dict[str, Path], tmp_path: Path
):
    """validate --kernel keeps checkpatch's MISSING_SIGN_OFF for every patch but the ones
    `generate series` wrote without --signoff: their X-Patchbot-Generated header says so."""
    from patchbot.validate.apply import read_series
    from patchbot.validate.kernel import checkpatch_findings, kernel_patches

    def missing_signoff(outdir: Path) -> list[bool]:
        found = kernel_patches(read_series([str(outdir)]))
        return [
            any(f.rule == "checkpatch/MISSING_SIGN_OFF" for f in checkpatch_findings(git_tree, p))
            for p in found
        ]

    unsigned = tmp_path / "unsigned"
    proc = patchbot("generate", "series", "virtio-mem-coco", "--tree", str(git_tree),
                    "--branch", "gen/unsigned", "-o", str(unsigned))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for patch in patches(unsigned):
        assert "\nX-Patchbot-Generated: patchbot generate series virtio-mem-coco\n" in (
            patch.read_text().split("\n\n", 1)[0] + "\n"
        )
    assert missing_signoff(unsigned) == [False, False]
    # the same mails without the header are a contributor's: the sign-off is missing
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    for patch in patches(unsigned):
        text = re.sub(r"^X-Patchbot-Generated: .*\n", "", patch.read_text(), flags=re.M)
        (stripped / patch.name).write_text(text)
    assert missing_signoff(stripped) == [True, True]
    # generated with --signoff: the header says so, and the sign-off is there
    signed = generated["virtio-mem-coco"]
    assert "X-Patchbot-Generated: patchbot generate series virtio-mem-coco --signoff" in (
        patches(signed)[0].read_text()
    )
    assert missing_signoff(signed) == [False, False]


def test_virtio_mem_cover_asks_the_reviewers_questions(generated: dict[str, Path]):
    cover = (generated["virtio-mem-coco"] / "0000-cover-letter.patch").read_text()
    assert "feature bit" in cover and "expect on unplug" in cover


def test_dma_buf_cover_says_the_dma_attribute_is_missing(generated: dict[str, Path]):
    """Neither 6.1 nor 6.12 defines DMA_ATTR_CC_SHARED."""
    cover = (generated["dma-buf-shared-heap"] / "0000-cover-letter.patch").read_text()
    assert "has no CC-shared DMA\nattribute (DMA_ATTR_CC_SHARED)" in cover
    series = "".join(p.read_text() for p in patches(generated["dma-buf-shared-heap"]))
    assert "DMA_ATTR_CC" not in series.split("\n---\n", 1)[1]
    needed = ("pgprot_decrypted(vma->vm_page_prot)", "prot = pgprot_decrypted(prot)",
              "set_memory_decrypted(", "set_memory_encrypted(", "cc_platform_has(")  # fmt: skip
    assert [n for n in needed if n not in series] == []


@pytest.mark.parametrize("feature", FEATURES)
def test_series_applies_with_git_am(
    git_tree: Path, generated: dict[str, Path], feature: str, tmp_path: Path
):
    wt = tmp_path / "am"
    git(git_tree, "worktree", "add", "-q", "--detach", str(wt), "HEAD")
    try:
        git(wt, "am", *map(str, patches(generated[feature])))
        # what git am rebuilt is exactly what generate committed
        assert git(wt, "rev-parse", "HEAD^{tree}") == git(
            git_tree, "rev-parse", f"gen/{feature}^{{tree}}"
        )
    finally:
        git(git_tree, "worktree", "remove", "--force", str(wt))


@pytest.mark.parametrize("feature", FEATURES)
def test_checkpatch_strict_is_clean(git_tree: Path, generated: dict[str, Path], feature: str):
    for patch in patches(generated[feature]):
        proc = subprocess.run(
            ["perl", "scripts/checkpatch.pl", "--strict", "--no-tree", str(patch)],
            cwd=git_tree, capture_output=True, text=True,
        )  # fmt: skip
        assert "total: 0 errors, 0 warnings, 0 checks" in proc.stdout, proc.stdout
        assert proc.returncode == 0


def lint(tree: Path, outdir: Path) -> list[dict]:
    proc = patchbot(
        "lint", "--format", "json", "--fail-on", "never", "--tree", str(tree), str(outdir)
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["findings"]


def test_lint_dma_buf_has_no_findings(git_tree: Path, generated: dict[str, Path]):
    assert lint(git_tree, generated["dma-buf-shared-heap"]) == []


def test_lint_virtio_mem_has_no_findings_and_the_cover_letter_asks_the_question(
    git_tree: Path, generated: dict[str, Path], tmp_path: Path
):
    """No virtio-mem feature bit for CoCo exists in the spec, so the series cannot check
    one; its cover letter asks instead, and lint does not ask it back.  Without the
    cover letter the question is the only finding."""
    assert lint(git_tree, generated["virtio-mem-coco"]) == []
    bare = tmp_path / "no-cover"
    bare.mkdir()
    for patch in patches(generated["virtio-mem-coco"]):
        shutil.copy(patch, bare / patch.name)
    findings = lint(git_tree, bare)
    assert [(f["rule"], f["severity"]) for f in findings] == [("cc-without-feature-bit", "info")]


def model(tree: Path, outdir: Path) -> list[dict]:
    proc = patchbot(
        "validate", "--format", "json", "--platform", "all", "--tree", str(tree), str(outdir)
    )
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    assert (proc.returncode == 1) == bool(data["findings"])
    return data["findings"]


def test_model_boots_virtio_mem_series_clean_with_every_fault(
    git_tree: Path, generated: dict[str, Path]
):
    assert model(git_tree, generated["virtio-mem-coco"]) == []


def test_model_dma_buf_only_misses_the_absent_dma_attribute(
    git_tree: Path, generated: dict[str, Path]
):
    """6.1 and 6.12 have no DMA_ATTR_CC_SHARED, so the series leaves it out (the cover
    letter says so); the model, whose DMA API has it, reports exactly that and nothing else."""
    findings = model(git_tree, generated["dma-buf-shared-heap"])
    assert {f["rule"] for f in findings} == {"dma-shared-without-cc-attr"}
    assert {f["function"] for f in findings} == {"system_heap_map_dma_buf"}


def test_dma_buf_uses_the_attribute_where_the_tree_has_it(git_tree: Path, tmp_path: Path):
    """A tree whose dma-mapping.h defines DMA_ATTR_CC_SHARED gets it on device mappings;
    then lint and the model (none, tdx, snp, every single fault) are clean."""
    wt = tmp_path / "attr"
    git(git_tree, "worktree", "add", "-q", "-b", "with-cc-attr", str(wt), "HEAD")
    try:
        header = wt / "include/linux/dma-mapping.h"
        text = header.read_text()
        anchor = "#define DMA_ATTR_PRIVILEGED\t\t(1UL << 9)\n"
        assert anchor in text
        header.write_text(
            text.replace(anchor, anchor + "#define DMA_ATTR_CC_SHARED\t\t(1UL << 12)\n")
        )
        git(wt, "commit", "-q", "-am", "dma-mapping: a CC-shared attribute (test tree)")
        out = tmp_path / "out"
        proc = patchbot("generate", "series", "dma-buf-shared-heap", "--tree", str(wt),
                        "--branch", "gen/attr", "-o", str(out), "--signoff")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        series = "".join(p.read_text() for p in patches(out))
        assert "attrs |= DMA_ATTR_CC_SHARED;" in series
        assert "has no CC-shared DMA" not in (out / "0000-cover-letter.patch").read_text()
        assert lint(wt, out) == []
        assert model(wt, out) == []
    finally:
        git(git_tree, "worktree", "remove", "--force", str(wt))


def test_unmodified_tree_still_fails_on_tdx(git_tree: Path):
    proc = patchbot("boot", "--driver", "virtio-mem", "--platform", "tdx", "--tree", str(git_tree))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "unaccepted-to-buddy" in proc.stdout


@pytest.mark.qemu
@pytest.mark.parametrize("feature", FEATURES)
def test_validate_kernel_builds_and_boots_the_series(
    embedded: Path, generated: dict[str, Path], feature: str
):
    """The real-kernel path (patchbot validate --kernel): git am in a worktree of the
    cached tree (the series' base-commit is its HEAD), checkpatch --strict, W=1 C=1 on the
    touched objects after each patch with no new warnings, bzImage, a QEMU boot with
    virtio-mem resized up and down and the dma-heap test program."""
    proc = patchbot("validate", "--kernel", "--tree", str(embedded), str(generated[feature]))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "patchbot: no findings in 2 patches" in proc.stdout
    for step in ("build 1/2: ok", "build 2/2: ok", "boot + resize + dma-heap: clean"):
        assert step in proc.stdout + proc.stderr


# ---- bad input: one clear line, exit 2, the tree exactly as it was ----


def refused(tree: Path, *extra: str, expect: str, env: dict[str, str] | None = None, out=None):
    before = snapshot(tree) if (tree / ".git").exists() else None
    outdir = out or tree.parent / "refused-out"
    proc = patchbot(
        "generate", "series", "virtio-mem-coco", "--tree", str(tree), "--branch", "gen/refused",
        "-o", str(outdir), *extra, env=env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("patchbot: error: ") and expect in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    if before is not None:
        assert snapshot(tree) == before
    return proc


def small_repo(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "-q")
    git(path, "add", "-A")
    git(path, "-c", f"user.name={NAME}", "-c", f"user.email={EMAIL}", "commit", "-qm", "base")
    return path


def test_existing_branch_is_refused(git_tree: Path, generated: dict[str, Path], tmp_path: Path):
    proc = patchbot("generate", "series", "virtio-mem-coco", "--tree", str(git_tree),
                    "--branch", "gen/virtio-mem-coco", "-o", str(tmp_path / "o"))  # fmt: skip
    assert proc.returncode == 2 and "branch 'gen/virtio-mem-coco' already exists" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("branch", ["-D", "--output=/tmp/patchbot-never"])
def test_branch_that_looks_like_an_option_is_refused(git_tree: Path, branch: str):
    # issue 16 item 13: --branch reaches `git branch`; it must never be read as an option
    refused(git_tree, f"--branch={branch}", expect="is not a valid branch name")
    assert not Path("/tmp/patchbot-never").exists()


def test_dirty_worktree_is_refused(git_tree: Path):
    target = git_tree / "drivers/virtio/virtio_mem.c"
    original = target.read_bytes()
    target.write_bytes(original + b"/* local edit */\n")
    try:
        refused(git_tree, expect="has uncommitted changes")
        assert target.read_bytes() == original + b"/* local edit */\n"  # the edit survives
    finally:
        target.write_bytes(original)


def test_tree_without_the_target_file(tmp_path: Path):
    repo = small_repo(tmp_path / "t", {"README": "not a kernel\n"})
    refused(repo, expect="has no drivers/virtio/virtio_mem.c")


def test_drifted_file(kernel_tree: Path, tmp_path: Path):
    real = (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    drifted = real.replace("virtio_mem_sbm_notify_going_online", "virtio_mem_sbm_going_online")
    repo = small_repo(tmp_path / "t", {"drivers/virtio/virtio_mem.c": drifted})
    refused(
        repo, expect="no definition of virtio_mem_sbm_notify_going_online(); the file has drifted"
    )
    # an anchor inside a function that is still there, but changed
    moved = real.replace("\t\tvm->hotplug_active = false;\n\t\tmutex_unlock", "\t\tmutex_unlock")
    repo2 = small_repo(tmp_path / "t2", {"drivers/virtio/virtio_mem.c": moved})
    refused(repo2, expect="in virtio_mem_memory_notifier_cb(): anchor")


def test_not_a_git_repository(tmp_path: Path):
    refused(tmp_path, expect="is not a git repository")


def test_nonempty_output_dir_is_refused_before_the_branch(kernel_tree: Path, tmp_path: Path):
    real = (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    repo = small_repo(tmp_path / "t", {"drivers/virtio/virtio_mem.c": real})
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    refused(repo, expect="is not empty", out=out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_signoff_needs_an_identity(kernel_tree: Path, tmp_path: Path):
    real = (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    repo = small_repo(tmp_path / "t", {"drivers/virtio/virtio_mem.c": real})
    env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    env.pop("GIT_CONFIG_GLOBAL", None)
    refused(repo, "--signoff", expect="needs git config user.name and user.email", env=env)


def test_bad_assisted_by_is_refused(git_tree: Path):
    refused(git_tree, "--assisted-by", "Claude (opus)", expect="write it as AGENT:MODEL")
