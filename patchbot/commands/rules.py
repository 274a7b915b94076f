"""`patchbot rules`: list the rules, explain one, regenerate docs/RULES.md."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from patchbot.config import load_config
from patchbot.engine import LoadedRule, load_rules, resolve_id
from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, InputError
from patchbot.resources import rules_dir
from patchbot.ruledoc import refresh_readme, render_rules_markdown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rules",
        help="list, explain and document the lint rules",
        description="List the lint rules, print one rule's documentation, or regenerate "
        "docs/RULES.md and the README rules table from the rule docstrings.",
    )
    p.add_argument("--config", metavar="F", help="config file (for extra rule-dirs)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    listing = actions.add_parser(
        "list",
        help="id, severity, scope and summary of every rule",
        description="Print the id, severity, scope and summary of every rule.",
    )
    listing.add_argument(
        "--format", choices=("text", "json"), default="text", help="default: a text table"
    )
    explain = actions.add_parser(
        "explain",
        help="print a rule's documentation",
        description="Print a rule's documentation: what it does, why it matters, an "
        "example, the fix, known false positives and references.",
    )
    explain.add_argument("rule_id", metavar="ID", help="rule id or alias")
    doc = actions.add_parser(
        "doc",
        help="regenerate docs/RULES.md from the rule docstrings",
        description="Regenerate docs/RULES.md and the README rules table from the rule docstrings.",
    )
    doc.add_argument("--output", metavar="FILE", help="write here instead of docs/RULES.md")
    doc.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the file is out of date instead of writing it",
    )
    p.set_defaults(func=run)


def default_doc_path() -> Path:
    """docs/RULES.md beside the rules/ directory of a source checkout."""
    rules = rules_dir()
    if rules.parent.name == "_bundled":  # an installed wheel has no docs/ to update
        raise InputError("not running from a source checkout: give --output FILE")
    return rules.parent / "docs" / "RULES.md"


def _list(rules: list[LoadedRule], fmt: str) -> str:
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "severity": r.rule.severity.label,
                "scope": r.rule.scope,
                "confidence": r.rule.confidence,
                "aliases": list(r.rule.aliases),
                "summary": r.rule.summary,
            }
            for r in rules
        ]
        return json.dumps(rows, indent=2) + "\n"
    width = max((len(r.id) for r in rules), default=2)
    lines = [f"{'ID':<{width}}  SEVERITY  SCOPE   SUMMARY"]
    lines += [
        f"{r.id:<{width}}  {r.rule.severity.label:<8}  {r.rule.scope:<6}  {r.rule.summary}"
        for r in rules
    ]
    return "\n".join(lines) + "\n"


def _explain(rules: list[LoadedRule], name: str) -> str:
    item = resolve_id(rules, name)
    if item is None:
        raise InputError(f"no rule called {name!r} (see 'patchbot rules list')")
    rule = item.rule
    head = (
        f"{rule.id}: {rule.summary}\nseverity: {rule.severity.label}, scope: {rule.scope}, "
        f"confidence: {rule.confidence}"
    )
    if rule.aliases:
        head += f", aliases: {', '.join(rule.aliases)}"
    if rule.options:
        head += "\noptions: " + ", ".join(f"{k} = {v!r}" for k, v in sorted(rule.options.items()))
    return f"{head}\n\n{item.doc.strip()}\n"


def _doc(rules: list[LoadedRule], output: str | None, check: bool) -> int:
    target = Path(output) if output else default_doc_path()
    text = render_rules_markdown(rules)
    if check:
        current = target.read_text() if target.is_file() else ""
        if current != text:
            sys.stderr.write(f"patchbot: {target} is out of date: run 'patchbot rules doc'\n")
            return EXIT_FINDINGS
        return EXIT_CLEAN
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as exc:
        raise InputError(f"{target}: {exc.strerror}") from None
    sys.stderr.write(f"patchbot: wrote {target} ({len(rules)} rules)\n")
    readme = target.parent.parent / "README.md"
    if output is None and readme.is_file():  # the checkout's README carries the index too
        readme.write_text(refresh_readme(readme.read_text(), rules))
        sys.stderr.write(f"patchbot: refreshed the rules table in {readme}\n")
    return EXIT_CLEAN


def run(args: argparse.Namespace) -> int:
    if not args.action:
        raise InputError("say what to do: patchbot rules list|explain ID|doc")
    config = load_config(args.config)
    rules = load_rules(config.rule_dirs)
    if args.action == "list":
        sys.stdout.write(_list(rules, args.format))
        return EXIT_CLEAN
    if args.action == "explain":
        sys.stdout.write(_explain(rules, args.rule_id))
        return EXIT_CLEAN
    return _doc(rules, args.output, args.check)
