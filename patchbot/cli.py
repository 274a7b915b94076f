"""Command-line entry point: argument parsing and dispatch only.

Each subcommand lives in patchbot/commands/<name>.py and exposes
``register(subparsers)`` (adds its parser and sets ``func``) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import patchbot.commands
from patchbot import __version__
from patchbot.errors import EXIT_INTERNAL, EXIT_USAGE, PatchbotError

# The help lists these first, in this order; any other module in patchbot/commands/
# follows alphabetically, so a new subcommand needs no edit here.
_FIRST = ("lint", "rules", "boot", "validate")


def subcommands() -> tuple[str, ...]:
    found = {m.name for m in pkgutil.iter_modules(patchbot.commands.__path__) if not m.ispkg}
    found = {name for name in found if not name.startswith("_")}
    return tuple(name for name in _FIRST if name in found) + tuple(sorted(found - set(_FIRST)))


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"patchbot: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="patchbot", description="Lint, generate and validate CoCo guest-memory kernel patches."
    )
    parser.add_argument("--version", action="version", version=f"patchbot {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress to stderr (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in subcommands():
        importlib.import_module(f"patchbot.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="patchbot: %(levelname)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except PatchbotError as exc:
        sys.stderr.write(f"patchbot: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last resort: one line, internal-error exit code
        logging.getLogger("patchbot").debug("internal error", exc_info=True)
        sys.stderr.write(
            f"patchbot: internal error: {type(exc).__name__}: {exc} "
            "(run with -vv for the traceback)\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
