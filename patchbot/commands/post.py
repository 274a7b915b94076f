"""`patchbot post`: send prepared replies (an mbox, e.g. from `patchbot review`).

Prints exactly the messages it would send unless --send.  `--queue` delivers what the
ledger still holds (replies an SMTP server refused, or a crash left unconfirmed).
`--resolve MSGID sent|drop|resend` settles a reply whose delivery was interrupted when
no archive can say whether it arrived.
"""

from __future__ import annotations

import argparse
import sys

from patchbot.post.options import add_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "post",
        help="print (or --send) prepared review replies; --queue retries the ledger's queue",
        description="Read complete reply messages from MBOX files (or - for stdin), check "
        "them, and print them as they would be sent. --send sends them through the per-list "
        "policy, the ledger and SMTP.",
    )
    p.add_argument("inputs", nargs="*", metavar="MBOX", help="mbox files of replies, - for stdin")
    add_options(p, archive_help="archive checked for each Message-ID before sending")
    p.add_argument("--send", action="store_true", help="send (default: print only)")
    p.add_argument(
        "--queue", action="store_true", help="deliver the replies still queued in the ledger"
    )
    p.add_argument(
        "--resolve",
        nargs=2,
        metavar=("MSGID", "sent|drop|resend"),
        help="settle a reply whose delivery was interrupted when no archive can tell: it is "
        "on the list (sent), never send it (drop), or it is not there (resend)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from patchbot.config import load_config
    from patchbot.errors import InputError
    from patchbot.post import cli_support
    from patchbot.post.deliver import Poster
    from patchbot.post.message import as_bytes
    from patchbot.post.prepared import read_replies, thread_key

    if args.resolve:
        if args.inputs or args.queue:
            raise InputError("--resolve goes alone: no MBOX files, no --queue")
        return _resolve(args)
    if not args.inputs and not args.queue:
        raise InputError("give MBOX files of replies to post, --queue or --resolve")
    if args.queue and not args.send and not args.inputs:
        args.send = True  # --queue means deliver: there is nothing else to do with it
    config = load_config(args.config)
    post = cli_support.settings(args, config)
    messages = (
        read_replies(args.inputs, sys.stdin.buffer, sender=post.sender) if args.inputs else []
    )
    if not args.send:
        for msg in messages:
            sys.stdout.write("From patchbot Thu Jan  1 00:00:00 1970\n")
            sys.stdout.write(as_bytes(msg).decode("utf-8", "replace").replace("\r\n", "\n"))
            sys.stdout.write("\n")
        return 0
    base = cli_support.archive(args, config, required=False)
    with cli_support.ledger(args, post) as ledger:
        poster = Poster(ledger, post, archive=base, settle=args.settle, failure_level=logging.INFO)
        actions = []
        for msg in messages:
            actions += poster.queue([msg], thread_key(msg))
        actions += poster.flush()
    return cli_support.report(actions)


def _resolve(args: argparse.Namespace) -> int:
    from patchbot.config import load_config
    from patchbot.post import cli_support
    from patchbot.post.message import bracket

    message_id, how = args.resolve
    post = cli_support.settings(args, load_config(args.config))
    with cli_support.ledger(args, post) as ledger:
        row = ledger.resolve(bracket(message_id), how)
    sys.stdout.write(f"resolved {row.message_id}: {how} (now {row.state})\n")
    return 0
