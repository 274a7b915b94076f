"""Exceptions that map onto the documented exit codes.

Exit codes of every subcommand: 0 clean, 1 findings at or above --fail-on (or a failed
validation), 2 usage or input error, 3 internal error.
"""

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class PatchbotError(Exception):
    """Base class; the message is printed as one line."""

    exit_code = EXIT_INTERNAL


class InputError(PatchbotError):
    """The user's input cannot be used (missing file, empty series, bad config...)."""

    exit_code = EXIT_USAGE


class ConfigError(InputError):
    """A .patchbot.toml or [tool.patchbot] table is invalid."""
