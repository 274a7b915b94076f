"""Where the bundled rules/ and templates/ directories are.

From a source checkout they are the top-level rules/ and templates/ beside the package.
From an installed wheel they are shipped as package data under patchbot/_bundled/.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled {name}/ directory not found next to {_PACKAGE}")


def rules_dir() -> Path:
    return _find("rules")


def templates_dir() -> Path:
    return _find("templates")
