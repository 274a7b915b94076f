"""Options several commands share (cli.py treats every module in commands/ as a command):
the model ones `boot` and `validate` both take: which platforms, which tree, which format."""

from __future__ import annotations

import argparse

from patchbot.model.platforms import PLATFORMS


def add_model_options(p: argparse.ArgumentParser, *, platform_note: str = "") -> None:
    """--platform, --tree and --format, worded the same for every command that boots."""
    p.add_argument(
        "--platform",
        choices=[*PLATFORMS, "all"],
        default="all",
        help="CoCo profile of the model: none (no CoCo), tdx, snp, or all of them "
        f"(default: all{platform_note})",
    )
    p.add_argument(
        "--tree",
        help="kernel tree: 6.1 or 6.12 (embedded) or a PATH (default: the newest embedded)",
    )
    p.add_argument(
        "--format",
        choices=["text", "json", "sarif", "b4"],
        default="text",
        help="output format of the findings (default: text)",
    )
