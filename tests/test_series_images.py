"""Per-patch pre/post images: exact when whole files are known, sparse otherwise."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES

from patchbot.errors import InputError
from patchbot.series.images import file_mode_sources, source_files, tree_sources
from patchbot.series.load import load_series

SERIES = FIXTURES / "series"
C_PATH = "drivers/virtio/virtio_coco_mem.c"
H_PATH = "drivers/virtio/virtio_coco_mem.h"


def _tip(path: str) -> str:
    return (SERIES / "tip" / path).read_text()


def _base(path: str) -> str:
    return (SERIES / "tree" / path).read_text()


def test_sparse_images_keep_real_line_numbers() -> None:
    series = load_series([str(SERIES / "coco-v3-shuffled.mbox")])
    (src,) = source_files(series, series.patches[1])
    assert src.path == C_PATH and not src.complete
    tip_lines = _tip(C_PATH).split("\n")
    lines = src.lines
    assert len(lines) == 75  # the last line the hunk shows
    assert lines[67] == "\tif (region->shared && set_memory_encrypted(addr, 1 << region->order)) {"
    assert lines[0] == "" and lines[57] == ""  # not shown by the diff
    assert sorted(src.added) == list(range(62, 73))
    assert src.pre_text is not None
    pre = src.pre_text.split("\n")
    assert pre[59] == "static void coco_region_free(struct coco_region *region)"
    # the shown lines agree with the real file (in the tip, patch 4 added one line above)
    assert lines[58:75] == tip_lines[59:76]


def test_exact_images_follow_the_series_patch_by_patch() -> None:
    series = load_series([str(SERIES / "coco-v3")], tree=str(SERIES / "tree"))
    assert set(series.pre_images) == {C_PATH, H_PATH}
    previous = {C_PATH: _base(C_PATH), H_PATH: _base(H_PATH)}
    for patch in series.patches:
        for src in source_files(series, patch):
            assert src.complete
            assert src.pre_text == previous[src.path]
            assert src.added == frozenset(
                next(fd for fd in patch.files if fd.path == src.path).added_lines()
            )
            previous[src.path] = src.text
        assert not patch.warnings and patch.applicable
    assert previous == {C_PATH: _tip(C_PATH), H_PATH: _tip(H_PATH)}


def _tree_copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(SERIES / "tree", tree)
    return tree


def test_hunks_apply_at_an_offset(tmp_path: Path) -> None:
    tree = _tree_copy(tmp_path)
    c_file = tree / C_PATH
    text = c_file.read_text()
    c_file.write_text(
        text.replace("#include <linux/module.h>\n", "#include <linux/module.h>\n" * 4)
    )
    series = load_series([str(SERIES / "coco-v3")], tree=str(tree))
    last = series.patches[-1]
    (src,) = source_files(series, last)
    assert src.text == _tip(C_PATH).replace(
        "#include <linux/module.h>\n", "#include <linux/module.h>\n" * 4
    )
    plain = last.files[0].added_lines()
    assert sorted(src.added) == [n + 3 for n in sorted(plain)]
    assert all(not p.warnings for p in series.patches)


def test_a_hunk_that_does_not_apply_falls_back_to_sparse(tmp_path: Path) -> None:
    tree = _tree_copy(tmp_path)
    c_file = tree / C_PATH
    c_file.write_text(
        c_file.read_text().replace(
            "static void coco_region_free(struct coco_region *region)\n{\n\t__free_pages",
            "static void coco_region_release(struct coco_region *region)\n{\n\tfree_pages",
        )
    )
    series = load_series([str(SERIES / "coco-v3")], tree=str(tree))
    first, second = series.patches[:2]
    (src,) = source_files(series, first)
    assert not src.complete and not first.applicable
    assert any("does not apply" in w for w in first.warnings)
    (later,) = source_files(series, second)
    assert not later.complete  # nothing exact is known after a failed patch
    (header,) = [s for s in source_files(series, series.patches[2]) if s.path == H_PATH]
    assert header.complete  # the other file is unaffected


def test_new_file_is_complete_without_a_tree(tmp_path: Path) -> None:
    diff = (
        "From: A <a@example.org>\nSubject: [PATCH] add\n\nAdd it.\n---\n"
        "diff --git a/drivers/virtio/new.c b/drivers/virtio/new.c\n"
        "new file mode 100644\n--- /dev/null\n+++ b/drivers/virtio/new.c\n"
        "@@ -0,0 +1,3 @@\n+int a;\n+\n+int b;\n"
    )
    path = tmp_path / "new.patch"
    path.write_text(diff)
    series = load_series([str(path)])
    (src,) = source_files(series, series.patches[0])
    assert src.complete and src.pre_text == ""
    assert src.lines == ["int a;", "", "int b;"] and src.added == frozenset({1, 2, 3})


def test_file_mode_sources(tmp_path: Path) -> None:
    c_file = tmp_path / "x.c"
    c_file.write_text("int main(void)\n{\n\treturn 0;\n}\n")
    (src,) = file_mode_sources([str(c_file)])
    assert src.path == str(c_file) and src.complete and src.added == frozenset()
    assert src.lines[2] == "\treturn 0;"
    with pytest.raises(InputError, match="no such file"):
        file_mode_sources([str(tmp_path / "missing.c")])


@pytest.mark.kernel_tree
def test_tree_sources_on_the_real_tree(kernel_tree: Path) -> None:
    sources = tree_sources(str(kernel_tree), ["drivers/virtio"])
    paths = [s.path for s in sources]
    assert "drivers/virtio/virtio_mem.c" in paths
    assert paths == sorted(paths) and all(p.endswith(".c") for p in paths)
    mem = sources[paths.index("drivers/virtio/virtio_mem.c")]
    assert mem.text == (kernel_tree / "drivers/virtio/virtio_mem.c").read_text()
    assert mem.added == frozenset() and mem.complete
    with pytest.raises(InputError, match="outside the tree"):
        tree_sources(str(kernel_tree), ["../.."])


@pytest.mark.kernel_tree
def test_mbox_series_against_the_real_tree(kernel_tree: Path, tmp_path: Path) -> None:
    """A patch made at test time from the real virtio_mem.c gets exact images."""
    rel = "drivers/virtio/virtio_mem.c"
    old = (kernel_tree / rel).read_text().split("\n")
    target = next(k for k, line in enumerate(old) if "set_memory" in line or "mutex_lock(" in line)
    new = [*old[:target], "\t/* patchbot test: an added line */", *old[target:]]
    diff = "".join(
        difflib.unified_diff(
            [line + "\n" for line in old],
            [line + "\n" for line in new],
            f"a/{rel}",
            f"b/{rel}",
        )
    )
    mail = tmp_path / "real.patch"
    mail.write_text(
        "From: A <a@example.org>\nSubject: [PATCH] virtio-mem: note\n\nNote.\n---\n" + diff
    )
    series = load_series([str(mail)], tree=str(kernel_tree))
    (src,) = source_files(series, series.patches[0])
    assert src.complete and src.text == "\n".join(new)
    assert src.added == frozenset({target + 1})
    assert src.pre_text == "\n".join(old)
