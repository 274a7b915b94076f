"""`patchbot watch`: the archive-watching bot (poll, review each new series once, reply).

Silent unless --send (or send = true in [post]); SIGTERM finishes the current step and
exits 0 with the ledger committed; --once polls a single time and exits 2 when part of
the pass failed (archive unreachable or malformed, a reply not delivered), 0 otherwise.
One bot per ledger: a second `watch` on the same ledger exits 2 at start.
"""

from __future__ import annotations

import argparse

from patchbot.post.options import add_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watch",
        help="watch a public-inbox archive and reply to each new patch series (the bot)",
        description="Poll the archive's new.atom, wait for each series to be complete, lint "
        "its newest revision once and reply. Silent unless --send.",
    )
    add_options(p, archive_help="public-inbox archive to watch (default: archive in the config)")
    p.add_argument("--tree", metavar="T", help="kernel tree with the pre-images")
    p.add_argument("--send", action="store_true", help="send replies (default: log them only)")
    p.add_argument(
        "--validate",
        action="store_true",
        help="also boot each series' drivers in the bundled model before replying",
    )
    p.add_argument("--once", action="store_true", help="poll once and exit")
    p.add_argument(
        "--interval", type=float, default=60.0, metavar="S", help="seconds between polls (60)"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=600.0,
        metavar="S",
        help="how long to wait for the rest of an incomplete series (600)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from patchbot.config import load_config
    from patchbot.post import cli_support
    from patchbot.watch.loop import Bot
    from patchbot.watch.review import build_engine
    from patchbot.watch.stopping import StopRequest

    top = logging.getLogger("patchbot")
    if top.getEffectiveLevel() > logging.INFO:
        top.setLevel(logging.INFO)  # the bot logs one line per action
    config = load_config(args.config)
    post = cli_support.settings(args, config)
    post.sender_or_error()
    base = cli_support.archive(args, config, required=True)
    if args.validate:
        from patchbot.sandbox.mode import check_available, set_enabled

        # the bot validates whatever is mailed to a list: no --no-sandbox here, only
        # `run-patches-without-sandbox = true` in [post] turns the sandbox off
        set_enabled(not post.without_sandbox)
        if post.without_sandbox:
            top.warning("run-patches-without-sandbox = true: mailed patches run on this host")
        check_available()
    assert base is not None
    stopping = StopRequest()
    stopping.install()
    with cli_support.ledger(args, post) as ledger:
        ledger.hold_for_watch()  # one bot per ledger: a second one exits 2
        bot = Bot(
            archive=base,
            engine=build_engine(config),
            settings=post,
            ledger=ledger,
            send=args.send or post.send,
            tree=args.tree,
            validate=args.validate,
            wait=args.wait,
            settle=args.settle,
            stop=stopping.requested,
        )
        if args.once:  # for cron: 2 says the pass left work for the next one (logged)
            return 0 if bot.poll() else 2
        bot.run(args.interval, stopping.sleep)
    return 0
