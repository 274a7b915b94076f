"""`patchbot lint`: lint a patch series (or whole files) against the rules in rules/.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage/input error,
3 internal error (a broken or crashing rule).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from patchbot.api import SourceFile
from patchbot.config import FAIL_ON_CHOICES, Config, load_config
from patchbot.engine import (
    Engine,
    LintResult,
    load_rules,
    read_baseline,
    select_rules,
    write_baseline,
)
from patchbot.errors import EXIT_CLEAN, EXIT_INTERNAL, InputError
from patchbot.report import FORMATS, render

log = logging.getLogger(__name__)

QUIET_FORMATS = ("b4", "checkpatch")

EPILOG = """\
modes: patches (INPUT, -, --git, --msgid) report only what each patch introduces; --file and
--paths (audit) report everything in the files, with the CoCo rules only: the style rules
(duplicated-logic, repeated-expression, restating-comment) review what a patch adds, and
run in an audit only when --select or --enable names them.

exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error,
3 internal error (a broken or crashing rule; the other rules still report).

b4: review-perpatch-check-cmd = patchbot lint --format b4 -
    prep-perpatch-check-cmd / am-perpatch-check-cmd = patchbot lint --format checkpatch -

configuration: .patchbot.toml (searched upwards) or [tool.patchbot] in pyproject.toml:
fail-on, format, rule-dirs, baseline, [rules.ID] enabled/severity/options, [[ignore]]
rule + paths.  Silence one line with /* patchbot-ignore: rule-id */."""


def _id_list(values: list[str] | None) -> list[str]:
    """--select a,b --select c -> [a, b, c]"""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lint",
        help="lint a patch series (mbox, patch files, directory, stdin, git range) or C files",
        description="Lint patches with rules encoding what CoCo guest-memory reviewers ask for.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="mbox, .patch/.eml files, a format-patch directory, - for stdin, or one "
        "Message-ID (fetched from --archive or the configured archive)",
    )
    p.add_argument("--git", metavar="BASE..TIP", help="lint the commits of a git range")
    p.add_argument(
        "--msgid",
        metavar="MESSAGE-ID",
        help="lint the newest series version of a thread fetched from a public-inbox "
        "archive (a Message-ID with --archive, or a thread URL)",
    )
    p.add_argument(
        "--archive",
        metavar="URL",
        help="public-inbox archive for --msgid, e.g. https://lore.kernel.org/linux-coco",
    )
    p.add_argument("--repo", metavar="DIR", help="repository for --git (default: cwd)")
    p.add_argument(
        "--tree",
        metavar="T",
        help="kernel tree with the pre-images (series mode) or to audit (--paths): "
        "6.1 or 6.12 (embedded) or a PATH",
    )
    p.add_argument(
        "--no-tree",
        action="store_true",
        help="in series mode, do not read pre-images from the kernel tree the current "
        "directory is in (by default it is used like --tree, as checkpatch.pl uses it)",
    )
    p.add_argument(
        "--file",
        dest="files",
        nargs="+",
        metavar="F.c",
        help="lint whole C files; every line counts",
    )
    p.add_argument(
        "--paths",
        nargs="+",
        metavar="DIR",
        help="audit every .c file under DIR in --tree (default: the cached tree)",
    )
    p.add_argument("--format", choices=FORMATS, help="report format (default: text)")
    p.add_argument("--output", metavar="FILE", help="write the report to FILE")
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        help="lowest severity that makes the exit code 1 (default: warning)",
    )
    p.add_argument("--config", metavar="F", help="config file (default: nearest .patchbot.toml)")
    p.add_argument("--baseline", metavar="F", help="drop findings recorded in this baseline")
    p.add_argument(
        "--write-baseline",
        metavar="F",
        help="record the current findings as the baseline and exit 0",
    )
    p.add_argument("--enable", action="append", metavar="ID", help="enable a rule")
    p.add_argument("--disable", action="append", metavar="ID", help="disable a rule")
    p.add_argument("--select", action="append", metavar="ID,...", help="run only these rules")
    p.set_defaults(func=run)


def build_engine(args: argparse.Namespace, config: Config, fmt: str) -> Engine:
    rules = load_rules(config.rule_dirs)
    active = select_rules(
        rules,
        config,
        enable=_id_list(args.enable),
        disable=_id_list(args.disable),
        select=_id_list(args.select),
        audit=bool(args.files or args.paths),
    )
    if fmt in QUIET_FORMATS:
        # b4 pipes one patch at a time into a check command: a series-wide rule would only
        # ever see a series with holes in it
        active = [r for r in active if r.loaded.rule.scope != "series"]
    baseline_path = args.baseline or config.baseline
    baseline = read_baseline(Path(baseline_path)) if baseline_path else None
    return Engine(active, config, baseline=baseline)


_MESSAGE_ID = re.compile(r"<?[^\s<>@/]+@[^\s<>@/]+>?")


def _is_message_id(inputs: list[str]) -> bool:
    """One INPUT that is no file but a Message-ID or an archive URL: fetch that thread
    (from --archive, else the configured archive), as `patchbot review` does."""
    if len(inputs) != 1 or inputs[0] == "-" or Path(inputs[0]).exists():
        return False
    value = inputs[0]
    return bool(_MESSAGE_ID.fullmatch(value)) or value.startswith(("http://", "https://"))


def lint(args: argparse.Namespace, engine: Engine) -> LintResult:
    """Pick the mode from the arguments and run the engine; with --tree, the tree's
    cross-file summaries (built once, stored under the cache) serve every CoCo rule."""
    if args.tree:
        from patchbot.cparse import treedb
        from patchbot.cparse.treestore import for_tree
        from patchbot.kernel.tree import resolve_tree

        # `--tree 6.12` names an embedded tree: every later step wants its path
        args.tree = str(resolve_tree(args.tree))
        with treedb.active(for_tree(Path(args.tree))):
            return _lint(args, engine)
    return _lint(args, engine)


def _lint(args: argparse.Namespace, engine: Engine) -> LintResult:
    from patchbot.series import images

    if args.files or args.paths:
        if args.inputs or args.git or args.msgid:
            raise InputError("--file/--paths lint whole files: do not also give patches")
        if args.files and args.paths:
            raise InputError("give either --file or --paths, not both")
        skipped: list[str] = []  # files over the size limit
        if args.files:
            sources = images.file_mode_sources(args.files, skipped)
        else:
            from patchbot.kernel.tree import resolve_tree

            sources = images.tree_sources(str(resolve_tree(args.tree)), args.paths, skipped)
        result = engine.lint_files(sources)
        result.warnings[:0] = skipped
        result.warnings.extend(_unparsable(sources))
        return result
    if args.tree:  # a version name (6.1, 6.12) is an embedded tree, as for boot/validate
        from patchbot.kernel.tree import resolve_tree

        args.tree = str(resolve_tree(args.tree))
    msgid = args.msgid
    inputs = list(args.inputs)
    if msgid is None and not args.git and _is_message_id(inputs):
        msgid, inputs = inputs[0], []
    if args.archive and not msgid:
        raise InputError("--archive names where to fetch --msgid from: give --msgid too")
    if msgid:
        if inputs or args.git:
            raise InputError("--msgid fetches the series: do not also give patches or --git")
        from patchbot.series.archive import load_thread

        # assemble() keeps the newest version when the thread holds several
        base = args.archive or engine.config.archive
        series = load_thread(msgid, base=base, tree=_series_tree(args))
        if not series.patches:
            raise InputError(f"no patches with a diff found in the thread of {msgid}")
        return engine.lint_series(series, images.source_files)
    from patchbot.series.load import load_series

    if args.repo and not args.git:
        raise InputError("--repo only makes sense with --git BASE..TIP")
    tree = args.tree if args.git else _series_tree(args)  # a git range has its own files
    series = load_series(
        args.inputs, git_range=args.git, repo=args.repo, tree=tree, stdin=sys.stdin.buffer
    )
    if not series.patches:
        raise InputError("no patches with a diff found in the input")
    return engine.lint_series(series, images.source_files)


def _series_tree(args: argparse.Namespace) -> str | None:
    """--tree, else the kernel tree the current directory is in (unless --no-tree)."""
    if args.tree is not None or args.no_tree:
        return args.tree
    from patchbot.kernel.enclosing import enclosing_kernel_tree

    found = enclosing_kernel_tree()
    if found is not None:
        log.info("pre-images from the kernel tree %s (the current directory is in it)", found)
    return str(found) if found is not None else None


# Real kernel files leave tree-sitter a few ERROR nodes around exotic macros (about 0.1% of
# lines after normalisation); a file far above that is not C the rules can be trusted on.
UNPARSABLE_SHARE = 0.05


def _unparsable(sources: list[SourceFile]) -> list[str]:
    """Warnings for whole files whose C does not parse: linted as far as it goes."""
    from patchbot.cparse.parse import error_stats

    warnings = []
    for source in sources:
        nonblank = sum(1 for line in source.lines if line.strip())
        if not nonblank:
            continue
        _count, bad_lines = error_stats(source.text)
        if bad_lines / nonblank > UNPARSABLE_SHARE:
            warnings.append(
                f"{source.path}: {bad_lines} of {nonblank} lines do not parse as C; "
                "findings there may be missing"
            )
    return warnings


def _emit(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text)
    except OSError as exc:
        raise InputError(f"--output {output}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    fmt = args.format or config.format
    fail_on = args.fail_on or config.fail_on
    engine = build_engine(args, config, fmt)
    result = lint(args, engine)
    # b4 check commands: stderr lines count as failures in b4 prep/am --check, and the
    # report itself carries the warnings and errors
    quiet = fmt in QUIET_FORMATS
    for warning in result.warnings:
        if quiet:
            log.info("input warning: %s", warning)
        else:
            sys.stderr.write(f"patchbot: warning: {warning}\n")
    for error in result.errors:
        if not quiet:
            sys.stderr.write(f"patchbot: internal error: {error}\n")
    if args.write_baseline:
        count = write_baseline(
            Path(args.write_baseline), result.findings + result.baselined_findings
        )
        sys.stderr.write(f"patchbot: wrote {count} findings to {args.write_baseline}\n")
        return EXIT_INTERNAL if result.errors else EXIT_CLEAN
    _emit(render(result, fmt), args.output)
    return result.exit_code(fail_on)
