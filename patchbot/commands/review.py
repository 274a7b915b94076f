"""`patchbot review`: lint a series from the archive (or a local mbox) and reply to it.

A FILE is read as the archive's thread would be (headers for To/Cc/References included),
so its replies and their Message-IDs are the same; no archive is needed to print them.

Prints the replies (an mbox of complete messages) unless --send; with --send they go
through the per-list policy, the ledger and SMTP (see docs/POSTING.md).
"""

from __future__ import annotations

import argparse
import sys

from patchbot.post.options import add_options
from patchbot.sandbox.mode import add_argument as add_sandbox_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="lint a series from a public-inbox archive or a local mbox and print (or --send) "
        "the review replies",
        description="Fetch the thread of MESSAGE-ID (or read the mbox FILE), lint its newest "
        "series version and write a reply to each patch with findings. Nothing is sent "
        "without --send.",
    )
    p.add_argument(
        "message_id",
        metavar="MESSAGE-ID|FILE",
        help="a Message-ID of the series, its URL, or a local mbox of the series (no archive "
        "needed)",
    )
    add_options(p, archive_help="public-inbox archive (default: archive in the config)")
    p.add_argument("--tree", metavar="T", help="kernel tree with the pre-images")
    p.add_argument(
        "--newest",
        action="store_true",
        help="review the newest revision in the archive (searches for a later vN)",
    )
    p.add_argument(
        "--validate",
        action="store_true",
        help="also boot the touched drivers in the bundled model (none, tdx, snp, every "
        "single fault); the cover-letter reply summarises the boots",
    )
    p.add_argument("--send", action="store_true", help="send the replies (default: print them)")
    add_sandbox_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from patchbot.config import load_config
    from patchbot.errors import InputError
    from patchbot.post import cli_support
    from patchbot.post.deliver import Poster
    from patchbot.post.message import mbox_text
    from patchbot.series.archive import split_reference
    from patchbot.series.feed import newest_revision
    from patchbot.watch import review, thread

    config = load_config(args.config)
    post = cli_support.settings(args, config)
    sender = post.sender_or_error()
    if args.validate:
        from patchbot.sandbox.mode import from_args

        from_args(args)  # refuse before fetching anything
    archive = cli_support.archive(args, config, required=False)
    local = Path(args.message_id).is_file()
    if local:  # a local mbox: everything the replies need is in the file
        if args.newest:
            raise InputError("--newest searches an archive; it does not go with a FILE")
        fetched = thread.load_file(args.message_id, tree=args.tree)
        base = archive
    else:
        base, mid = split_reference(args.message_id, archive)
        fetched = thread.load(base, mid, tree=args.tree)
    if args.newest and not local and base is not None:
        later = newest_revision(base, fetched.series)
        if later:
            sys.stderr.write(f"patchbot: a newer revision is <{later}>: reviewing that\n")
            fetched = thread.load(base, later, tree=args.tree)
    result = review.lint(review.build_engine(config), fetched)
    for warning in result.warnings:
        sys.stderr.write(f"patchbot: warning: {warning}\n")
    validation = review.validate(fetched, args.tree) if args.validate else None
    if validation:  # lint's CoCo path findings, each reproduced by a model run or not
        from patchbot.validate.confirm import confirm, render

        sys.stderr.write(render(confirm(result.findings, validation)))
    messages = review.reply_messages(
        fetched, result, sender=sender, validation=validation, settings=post
    )
    if not args.send:
        if not messages:
            sys.stderr.write("patchbot: no findings, nothing to reply to\n")
        sys.stdout.write(mbox_text(messages))
        return 0
    with cli_support.ledger(args, post) as ledger:
        poster = Poster(ledger, post, archive=base, settle=args.settle, failure_level=logging.INFO)
        key = thread.series_key(fetched.series)
        actions = poster.queue(messages, key) + poster.flush()
        ledger.record_review(key, thread.revision(fetched.series))
    problem = None
    if post.patchwork is not None and not local:  # checks link to the archived patches
        from patchbot.post.patchwork import Patchwork

        client = Patchwork(post.patchwork)
        try:
            for check in review.checks(fetched, result):
                client.post_check(check)
        except InputError as exc:  # told after what was sent: the replies are out already
            problem = exc
    code = cli_support.report(actions)
    if problem is not None:
        raise problem
    return code
