"""`patchbot rules`: placeholder until its owner lands the real command."""

from __future__ import annotations

import argparse

from patchbot.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rules", help="(not yet implemented)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise InputError("'patchbot rules' is not implemented yet")
