"""The cached lookups in patchbot.patterns that the pattern rules use per line: they
must answer exactly as the plain scans they replace."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchbot.cparse.parse import function_at
from patchbot.patterns import function_of, line_runs

_FUNCTIONS = """\
static int demo_one(void) { return 1; } static int demo_two(void) { return 2; }

static void demo_three(struct demo_dev *dd)
{
\tdd->count = 0;
}
int demo_table[] = { 1, 2 };
"""


def test_function_of_answers_as_function_at() -> None:
    # two functions on line 1: both lookups name the same one
    for line in range(-1, _FUNCTIONS.count("\n") + 4):
        assert function_of(_FUNCTIONS, line) == function_at(_FUNCTIONS, line), line
    three = function_of(_FUNCTIONS, 5)
    assert three is not None and three.name == "demo_three"
    assert function_of(_FUNCTIONS, 7) is None


@pytest.mark.kernel_tree
def test_function_of_on_a_kernel_file(kernel_tree: Path) -> None:
    text = (kernel_tree / "drivers" / "virtio" / "virtio_mem.c").read_text()
    names = set()
    for line in range(0, text.count("\n") + 3):
        span = function_of(text, line)
        assert span == function_at(text, line), line
        names.add(span.name if span else None)
    assert len(names) > 90  # nearly a hundred functions (and None between them)


def test_line_runs() -> None:
    assert line_runs(frozenset({9, 3, 4, 5, 11, 10, 20})) == [(3, 5), (9, 11), (20, 20)]
    assert line_runs(frozenset({7})) == [(7, 7)]
    assert line_runs(frozenset()) == []
