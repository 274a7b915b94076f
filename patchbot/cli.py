"""Command-line entry point: argument parsing and dispatch only.

Each subcommand lives in patchbot/commands/<name>.py and exposes
``register(subparsers)`` (adds its parser and sets ``func``) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import pkgutil
import re
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


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2, and names the
    nearest choice when a command or an option value is mistyped."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"patchbot: error: {message}{_suggestion(message)}\n")
        raise SystemExit(EXIT_USAGE)


def _suggestion(message: str) -> str:
    m = _INVALID_CHOICE.search(message)
    if not m:
        return ""
    choices = [c.strip().strip("'") for c in m["choices"].split(",")]
    near = difflib.get_close_matches(m["given"], choices, n=1, cutoff=0.5)
    return f"; did you mean '{near[0]}'?" if near else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="patchbot",
        description="Lint, generate and validate CoCo guest-memory kernel patches.",
        epilog="Run 'patchbot COMMAND --help' for a command's options. Exit codes: 0 clean, "
        "1 findings or a failed validation, 2 usage or input error, 3 internal error.",
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
    if not getattr(args, "func", None):  # bare `patchbot`: what there is to run
        parser.print_help(sys.stdout)
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
