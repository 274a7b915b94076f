"""Shared test fixtures.

Real parts (the kernel tree, gcc, public-inbox, qemu) are installed by scripts/setup.sh;
a test that needs one and cannot find it fails loudly instead of skipping.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def load_bench(script: str) -> ModuleType:
    """A bench/ script as a module (bench/ is not a package), loaded once per session
    under the name bench/coco_independent.py gives it too, so both share one copy."""
    name = f"{script}_bench"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{script}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def scratch_tree(base: Path, tmp_path: Path, headers: dict[str, str]) -> Path:
    """A scratch tree for the model's tree shim: ``base``'s Makefile and headers (by
    symlink), with ``headers`` (name -> text, appended to ``base``'s include/linux header
    of that name, or a new header) as real files."""
    tree = tmp_path / "tree"
    (tree / "include" / "linux").mkdir(parents=True)
    (tree / "Makefile").write_text((base / "Makefile").read_text())
    for entry in (base / "include").iterdir():
        if entry.name != "linux":
            (tree / "include" / entry.name).symlink_to(entry)
    for entry in (base / "include" / "linux").iterdir():
        if entry.name not in headers:
            (tree / "include" / "linux" / entry.name).symlink_to(entry)
    for name, text in headers.items():
        own = base / "include" / "linux" / name
        head = own.read_text() if own.is_file() else ""
        (tree / "include" / "linux" / name).write_text(head + text)
    return tree


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to run while a real part is missing, naming each one.

    Without this, a machine without flex or cpio runs 400 tests and then fails five of
    them deep inside a kernel build; a skipped test would hide it altogether.
    """
    from patchbot.hosttools import describe_missing, missing

    absent = missing()
    if absent:
        raise pytest.UsageError(describe_missing(absent))


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """The extracted Debian linux-source-6.1 tree (cached under ~/.cache/patchbot)."""
    from patchbot.kernel.tree import tree_for

    return tree_for("6.1")


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Run `patchbot ARGS` in-process; returns (exit code, stdout, stderr)."""
    from patchbot.cli import main

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run
