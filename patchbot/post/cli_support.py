"""What the review, post and watch commands share: options, settings, the ledger."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from patchbot.config import Config
from patchbot.errors import InputError
from patchbot.post.deliver import Action
from patchbot.post.ledger import Ledger
from patchbot.post.options import LEDGER_NAME
from patchbot.post.settings import PostSettings, load_post_settings


def settings(args: argparse.Namespace, config: Config) -> PostSettings:
    loaded = load_post_settings(config)
    if getattr(args, "sender", None):
        from dataclasses import replace

        from patchbot.post.settings import parse_address

        loaded = replace(loaded, sender=parse_address("--from", "address", args.sender))
    return loaded


def archive(args: argparse.Namespace, config: Config, *, required: bool) -> str | None:
    base = args.archive or config.archive
    if base is None and required:
        raise InputError('no archive: give --archive URL or set archive = "URL" in the config')
    if base is not None and not base.startswith(("http://", "https://")):
        raise InputError(f"--archive {base}: not an http(s) URL")
    return base.rstrip("/") if base else None


def ledger(args: argparse.Namespace, post: PostSettings) -> Ledger:
    if args.ledger:
        path = Path(args.ledger)
    elif post.ledger:
        path = post.ledger
    else:
        from patchbot.kernel.tree import cache_dir

        path = cache_dir() / LEDGER_NAME
    return Ledger(path)


def report(actions: list[Action]) -> int:
    """Print one line per action; exit 2 when a reply could not be delivered (queued)."""
    for action in actions:
        sys.stdout.write(action.line() + "\n")
    failed = [a for a in actions if a.what in ("failed", "waiting")]
    if failed:
        hints = [a.hint for a in failed if a.hint]
        advice = hints[-1] if hints else "retry with `patchbot post --queue`"
        raise InputError(
            f"{len(failed)} repl{'y' if len(failed) == 1 else 'ies'} not delivered and kept in "
            f"the ledger queue ({failed[-1].detail}); {advice}"
        )
    return 0
