"""Build hook: ship the top-level rules/ and templates/ inside the wheel.

They live beside the package in a checkout (rule modules are loaded by path, never
imported as a package called ``rules``); an installed wheel carries them as
patchbot/_bundled/rules and patchbot/_bundled/templates, where
patchbot.resources looks for them.  All other metadata is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("rules", "templates")


class BuildPyWithBundledData(build_py):
    def run(self) -> None:
        super().run()
        for name in BUNDLED:
            dest = Path(self.build_lib) / "patchbot" / "_bundled" / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(
                ROOT / name, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )


setup(cmdclass={"build_py": BuildPyWithBundledData})
