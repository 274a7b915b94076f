"""Fixture runners for rule tests (used by every rule author's tests).

``check_annotated_c(path_or_text, rule_ids)`` lints a C fixture in --file mode with only
``rule_ids`` enabled and asserts that

* every line after a ``/* ruleid: X */`` comment gets a finding of X,
* no line after an ``/* ok: X */`` comment gets one,
* no other line gets a finding of X (an unannotated finding is a false positive).

``check_expected_patch(patch_path)`` lints a one-patch (or whole-series) fixture and
compares the findings with its sidecar ``<patch>.expected`` file, whose lines read
``rule-id path:line`` (``#`` starts a comment).

Both raise AssertionError with a readable account of every mismatch and return the
LintResult so a test can look further (messages, traces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from patchbot.api import SourceFile
from patchbot.config import Config
from patchbot.engine import Engine, LintResult, load_rules, select_rules

ANNOTATION_RE = re.compile(r"/\*\s*(ruleid|ok)\s*:\s*([a-z0-9 ,-]+?)\s*\*/")
ONLY_ANNOTATION_RE = re.compile(r"^\s*(?:/\*\s*(?:ruleid|ok)\s*:[^*]*\*/\s*)+$")


def _engine(rule_ids: Iterable[str], rule_dirs: Sequence[Path] = ()) -> Engine:
    config = Config(rule_dirs=list(rule_dirs))
    rules = load_rules(config.rule_dirs)
    return Engine(select_rules(rules, config, select=list(rule_ids)), config)


def _read(path_or_text: str | Path) -> tuple[str, str]:
    """(display path, text): a Path or an existing file name is read, anything else is text."""
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and Path(path_or_text).is_file()
    ):
        path = Path(path_or_text)
        return path.name, path.read_text()
    return "fixture.c", path_or_text


def fixture_annotations(text: str) -> dict[str, dict[str, set[int]]]:
    """{"ruleid"|"ok": {rule id: {target line numbers}}}; a comment annotates the next
    line that is not itself only annotations."""
    lines = text.split("\n")
    found: dict[str, dict[str, set[int]]] = {"ruleid": {}, "ok": {}}
    for number, line in enumerate(lines, start=1):
        for kind, ids in ANNOTATION_RE.findall(line):
            target = number + 1
            while target <= len(lines) and ONLY_ANNOTATION_RE.match(lines[target - 1]):
                target += 1
            for rule_id in (i.strip() for i in ids.split(",")):
                if rule_id:
                    found[kind].setdefault(rule_id, set()).add(target)
    return found


def lint_c_text(
    text: str,
    rule_ids: Iterable[str],
    path: str = "fixture.c",
    *,
    rule_dirs: Sequence[Path] = (),
) -> LintResult:
    """Lint C text in --file mode with only ``rule_ids`` enabled."""
    return _engine(rule_ids, rule_dirs).lint_files([SourceFile(path=path, text=text)])


def check_annotated_c(
    path_or_text: str | Path, rule_ids: Iterable[str], *, rule_dirs: Sequence[Path] = ()
) -> LintResult:
    """See the module docstring; ``rule_dirs`` adds rule directories to the bundled one."""
    name, text = _read(path_or_text)
    rule_ids = list(rule_ids)
    result = lint_c_text(text, rule_ids, name, rule_dirs=rule_dirs)
    if result.errors:
        raise AssertionError(f"{name}: internal errors: " + "; ".join(result.errors))
    marks = fixture_annotations(text)
    problems: list[str] = []
    for rule_id in rule_ids:
        fired = {f.line: f.message for f in result.findings if f.rule == rule_id}
        expected = marks["ruleid"].get(rule_id, set())
        for line in sorted(expected - fired.keys()):
            problems.append(f"{name}:{line}: expected a finding of {rule_id}, got none")
        for line in sorted(fired.keys() - expected):
            why = "marked ok" if line in marks["ok"].get(rule_id, set()) else "unannotated"
            problems.append(f"{name}:{line}: {why} line fired {rule_id}: {fired[line]}")
    if problems:
        raise AssertionError("\n".join(problems))
    return result


def read_expected(path: Path) -> set[tuple[str, str]]:
    """{(rule id, "path:line")} from an .expected sidecar."""
    expected: set[tuple[str, str]] = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        rule_id, _, where = line.partition(" ")
        expected.add((rule_id, where.strip()))
    return expected


def lint_patch_file(
    patch_path: Path, rule_ids: Iterable[str] | None = None, *, rule_dirs: Sequence[Path] = ()
) -> LintResult:
    """Lint a patch/mbox file as a series, with ``rule_ids`` (None: every rule)."""
    # imported here: the series loader is another module's job and pulls in more
    from patchbot.series.images import source_files
    from patchbot.series.load import load_series

    series = load_series([str(patch_path)])
    if rule_ids is None:
        config = Config(rule_dirs=list(rule_dirs))
        engine = Engine(select_rules(load_rules(config.rule_dirs), config), config)
    else:
        engine = _engine(rule_ids, rule_dirs)
    return engine.lint_series(series, source_files)


def check_expected_patch(
    patch_path: str | Path,
    rule_ids: Iterable[str] | None = None,
    *,
    rule_dirs: Sequence[Path] = (),
) -> LintResult:
    """Compare a patch fixture's findings with ``<patch_path>.expected``.

    Only the rules named in the .expected file (plus ``rule_ids``) are run, so a fixture
    for one rule does not break when another rule is added; an empty .expected with no
    ``rule_ids`` runs every rule and expects silence.
    """
    patch_path = Path(patch_path)
    sidecar = patch_path.with_name(patch_path.name + ".expected")
    if not sidecar.is_file():
        raise AssertionError(f"{patch_path}: missing sidecar {sidecar.name}")
    expected = read_expected(sidecar)
    ids = {r for r, _ in expected} | set(rule_ids or ())
    result = lint_patch_file(patch_path, sorted(ids) if ids else None, rule_dirs=rule_dirs)
    if result.errors:
        raise AssertionError(f"{patch_path.name}: internal errors: " + "; ".join(result.errors))
    actual = {(f.rule, f"{f.path}:{f.line}"): f.message for f in result.findings}
    problems = [f"missing: {r} {w}" for r, w in sorted(expected - actual.keys())]
    problems += [
        f"unexpected: {r} {w}: {actual[(r, w)]}" for r, w in sorted(actual.keys() - expected)
    ]
    if problems:
        raise AssertionError(f"{patch_path.name}:\n" + "\n".join(problems))
    return result
