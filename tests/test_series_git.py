"""--git BASE..TIP against a real repository made with gitpython."""

from __future__ import annotations

from pathlib import Path

import git
import pytest
from conftest import FIXTURES

from patchbot.errors import InputError
from patchbot.series.images import source_files
from patchbot.series.load import load_series

TREE = FIXTURES / "series" / "tree"
C_PATH = "drivers/virtio/virtio_coco_mem.c"
H_PATH = "drivers/virtio/virtio_coco_mem.h"


def _commit(repo: git.Repo, message: str, when: str) -> git.Commit:
    actor = git.Actor("Alice Example", "alice@example.org")
    repo.index.add([C_PATH, H_PATH])
    return repo.index.commit(
        message, author=actor, committer=actor, author_date=when, commit_date=when
    )


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    repo = git.Repo.init(tmp_path / "repo")
    work = Path(repo.working_tree_dir or "")
    (work / "drivers/virtio").mkdir(parents=True)
    for path in (C_PATH, H_PATH):
        (work / path).write_text((TREE / path).read_text())
    _commit(repo, "virtio-coco-mem: initial driver", "2026-11-02T10:00:00")
    c_file = work / C_PATH
    c_file.write_text(
        c_file.read_text().replace("\tbool shared;\n", "\tbool shared;\n\tu64 gpa;\n")
    )
    _commit(
        repo,
        "virtio-coco-mem: remember the guest physical address\n\n"
        "The host needs it to map the region.\n\n"
        "Signed-off-by: Alice Example <alice@example.org>\n",
        "2026-11-03T10:00:00",
    )
    h_file = work / H_PATH
    h_file.write_text(h_file.read_text().replace("#endif", "u64 coco_mem_gpa(void);\n\n#endif"))
    _commit(
        repo,
        "virtio-coco-mem: declare coco_mem_gpa()\n\n"
        "Reviewed-by: Bob Reviewer <bob@example.com>\n"
        "Signed-off-by: Alice Example <alice@example.org>\n",
        "2026-11-03T10:05:00",
    )
    c_file.write_text(
        c_file.read_text().replace(
            "\tregion->order = order;\n",
            "\tregion->order = order;\n\tregion->gpa = page_to_phys(region->pages);\n",
        )
    )
    _commit(
        repo,
        "virtio-coco-mem: fill in the guest physical address\n\n"
        "Signed-off-by: Alice Example <alice@example.org>\n",
        "2026-11-03T10:10:00",
    )
    return repo


def test_git_range_gives_one_patch_per_commit_with_exact_images(repo: git.Repo) -> None:
    commits = list(repo.iter_commits("HEAD~3..HEAD", reverse=True))
    series = load_series([], git_range="HEAD~3..HEAD", repo=str(repo.working_tree_dir))
    assert [p.title for p in series.patches] == [c.summary for c in commits]
    assert [p.source for p in series.patches] == [f"git:{c.hexsha[:12]}" for c in commits]
    assert [p.label for p in series.patches] == ["1/3", "2/3", "3/3"]
    first = series.patches[0]
    assert (first.author_name, first.author_email) == ("Alice Example", "alice@example.org")
    assert first.body.startswith("The host needs it to map the region.")
    assert [t.key for t in series.patches[1].trailers] == ["Reviewed-by", "Signed-off-by"]
    assert "1 file changed" in first.notes
    base = commits[0].parents[0]
    assert series.pre_images[C_PATH] == (base.tree / C_PATH).data_stream.read().decode()
    assert series.post_images[H_PATH] == (commits[-1].tree / H_PATH).data_stream.read().decode()
    for patch, commit in zip(series.patches, commits, strict=True):
        assert patch.applicable and not patch.warnings
        for src in source_files(series, patch):
            assert src.complete
            assert src.text == (commit.tree / src.path).data_stream.read().decode()
            parent = commit.parents[0].tree / src.path
            assert src.pre_text == parent.data_stream.read().decode()
    (last_c,) = source_files(series, series.patches[2])
    added_line = last_c.lines[min(last_c.added) - 1]
    assert added_line == "\tregion->gpa = page_to_phys(region->pages);"


def test_git_range_errors_are_input_errors(repo: git.Repo, tmp_path: Path) -> None:
    where = str(repo.working_tree_dir)
    with pytest.raises(InputError, match="not a git repository"):
        load_series([], git_range="HEAD~1..HEAD", repo=str(tmp_path))
    with pytest.raises(InputError, match="unknown revision"):
        load_series([], git_range="nosuch..HEAD", repo=where)
    with pytest.raises(InputError, match="holds no commits"):
        load_series([], git_range="HEAD..HEAD", repo=where)
    with pytest.raises(InputError, match="expected a range"):
        load_series([], git_range="HEAD", repo=where)


@pytest.mark.parametrize(
    "value",
    ["--output={out}..HEAD", "HEAD~1..--output={out}", "-o{out}..HEAD", "--output={out}.."],
)
def test_git_values_are_never_options(repo: git.Repo, tmp_path: Path, run_cli, value) -> None:
    # issue 16 item 13: `--git=--output=/path..HEAD` made git rev-list create (or
    # truncate) /path..HEAD before the range was rejected
    out = tmp_path / "victim"
    kept = tmp_path / "victim..HEAD"
    kept.write_text("must survive\n")
    code, stdout, err = run_cli(
        "lint", f"--git={value.format(out=out)}", "--repo", str(repo.working_tree_dir)
    )
    assert code == 2, err
    assert stdout == ""
    (line,) = err.strip().splitlines()
    assert "--git" in line and "Traceback" not in err
    assert kept.read_text() == "must survive\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "victim..HEAD"]


def test_git_range_passes_the_range_after_end_of_options(repo: git.Repo) -> None:
    # a range that is not an option still works, including one whose TIP is empty
    series = load_series([], git_range="HEAD~1..", repo=str(repo.working_tree_dir))
    assert [p.label for p in series.patches] == ["1/1"]
