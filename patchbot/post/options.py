"""Command-line options shared by review, post and watch (no heavy imports: the parser
of every subcommand is built at each start)."""

from __future__ import annotations

import argparse

LEDGER_NAME = "ledger.sqlite"


def add_options(p: argparse.ArgumentParser, *, archive_help: str) -> None:
    p.add_argument("--archive", metavar="URL", help=archive_help)
    p.add_argument("--config", metavar="F", help="config file (default: nearest .patchbot.toml)")
    p.add_argument("--from", dest="sender", metavar="ADDR", help="sender (default: sendemail.from)")
    p.add_argument(
        "--ledger",
        metavar="F",
        help="SQLite ledger of sent replies (default: [post] ledger, else "
        f"~/.cache/patchbot/{LEDGER_NAME})",
    )
    p.add_argument(
        "--settle",
        type=float,
        metavar="S",
        default=300.0,
        help="seconds before a reply whose delivery may have happened is checked in the "
        "archive and retried (default: 300)",
    )
