"""House rule: rule modules import only patchbot.* and the standard library.

Rules are loaded by path and shipped as data in the wheel; a third-party import in
one of them is a dependency nobody declared for it, and it bypasses the helpers
(patchbot.cparse, patchbot.patterns) that cache parses across rules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conftest import REPO

RULES = REPO / "rules"


def imported_roots(source: str, filename: str) -> set[str]:
    """Top-level package names of every absolute import in ``source``."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def foreign_imports(path: Path) -> set[str]:
    allowed = set(sys.stdlib_module_names) | {"patchbot", "__future__"}
    return imported_roots(path.read_text(), str(path)) - allowed


def test_rule_modules_import_only_patchbot_and_the_stdlib() -> None:
    modules = sorted(RULES.glob("*.py"))
    assert len(modules) >= 15, f"only {len(modules)} rule modules under {RULES}"
    offenders = {p.name: sorted(foreign_imports(p)) for p in modules}
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_check_catches_third_party_imports(tmp_path: Path) -> None:
    rule = tmp_path / "bad_rule.py"
    rule.write_text(
        "import os.path\nfrom tree_sitter import Node\nimport requests as r\n"
        "from patchbot.api import Rule\nfrom . import sibling\n"
    )
    assert foreign_imports(rule) == {"tree_sitter", "requests"}
