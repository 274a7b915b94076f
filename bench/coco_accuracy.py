"""Accuracy of the CoCo memory rules against a labelled corpus, and audit wall time.

The corpora are tests/labels/linux-<version>-coco.toml, one per embedded tree: every
function of the Debian linux-source tree that calls set_memory_{en,de}crypted() or
dma_set_{en,de}crypted(), plus our own fixtures, each labelled with the CoCo rule ids a
correct tool reports there.  The 6.12 corpus extends the 6.1 one (`base`) with the
functions new in 6.12 and lists its known false positives.
This script audits the listed tree directories and fixture files with the engine (as
``patchbot lint --paths`` does), then compares per (path, function, rule):

* a finding in a labelled function that the label lists: true positive;
* a label entry with no finding: false negative;
* any other CoCo-rule finding, in a labelled function or not: false positive.

Usage: python3 bench/coco_accuracy.py [--tree VERSION] [--json] [--profile]
(every embedded tree with a corpus when --tree is not given)
Prints precision/recall per rule and overall, every mismatch, and the audit wall time
(target: no mismatches, audit under 30 s). Exit status 1 when there is a mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchbot.api import Finding, SourceFile
from patchbot.config import Config
from patchbot.cparse.parse import function_at
from patchbot.engine import Engine, load_rules, select_rules
from patchbot.series.images import tree_sources

REPO = Path(__file__).resolve().parent.parent
LABELS_DIR = REPO / "tests" / "labels"
LABELS = LABELS_DIR / "linux-6.1-coco.toml"


def labels_for(version: str) -> Path:
    return LABELS_DIR / f"linux-{version}-coco.toml"


Key = tuple[str, str, str]  # (path, function, rule id)


@dataclass
class Corpus:
    rules: list[str]
    audit: list[str]
    fixtures: list[str]
    labels: dict[tuple[str, str], set[str]]  # (path, function) -> expected rule ids
    reasons: dict[tuple[str, str], str]
    known_fp: set[Key] = field(default_factory=set)  # findings a correct tool would not report


@dataclass
class Score:
    tp: set[Key] = field(default_factory=set)
    fp: set[Key] = field(default_factory=set)
    fn: set[Key] = field(default_factory=set)
    messages: dict[Key, str] = field(default_factory=dict)
    known: set[Key] = field(default_factory=set)  # the corpus' known false positives

    def per_rule(self, rule: str) -> tuple[int, int, int]:
        return tuple(  # type: ignore[return-value]
            sum(1 for k in s if k[2] == rule) for s in (self.tp, self.fp, self.fn)
        )

    @property
    def mismatches(self) -> list[str]:
        out = [f"missed  {r} {p} {f}()" for p, f, r in sorted(self.fn)]
        out += [
            f"extra   {r} {p} {f}(): {self.messages.get((p, f, r), '')}"
            for p, f, r in sorted(self.fp - self.known)
        ]
        out += [
            f"gone    {r} {p} {f}(): a known false positive is no longer reported"
            for p, f, r in sorted(self.known - self.fp)
        ]
        return out


def expected_rules(
    path: Path, key: tuple[str, str], entry: dict[str, Any], rules: list[str]
) -> set[str]:
    """The rule ids a label entry expects; an id that is not a CoCo rule is an error."""
    unknown = set(entry["expected"]) - set(rules)
    if unknown:
        raise ValueError(f"{path}: {key}: unknown rule ids {sorted(unknown)}")
    return set(entry["expected"])


def load_corpus(path: Path = LABELS) -> Corpus:
    data = tomllib.loads(path.read_text())
    base = load_corpus(path.parent / data["base"]) if "base" in data else None
    for part in ("rules", "audit", "fixtures"):
        if base is not None and part not in data:
            data[part] = getattr(base, part)
    labels: dict[tuple[str, str], set[str]] = dict(base.labels) if base else {}
    reasons: dict[tuple[str, str], str] = dict(base.reasons) if base else {}
    inherited = set(labels)
    for entry in data.get("site", []) + data.get("fixture", []):
        key = (entry["path"], entry["function"])
        if key in labels and key not in inherited:
            raise ValueError(f"{path}: {key} labelled twice")
        labels[key] = expected_rules(path, key, entry, data["rules"])
        reasons[key] = entry["reason"]
    known = {(p, f, r) for p, f, r in data.get("known_false_positives", [])}
    return Corpus(data["rules"], data["audit"], data["fixtures"], labels, reasons, known)


def corpus_sources(corpus: Corpus, tree: Path) -> list[SourceFile]:
    files = tree_sources(str(tree), corpus.audit)
    for rel in corpus.fixtures:
        files.append(SourceFile(path=rel, text=(REPO / rel).read_text()))
    return files


def run_rules(rule_ids: Iterable[str], files: list[SourceFile]) -> tuple[list[Finding], list[str]]:
    """Audit mode through the engine with only ``rule_ids``; (findings, internal errors)."""
    config = Config()
    loaded = load_rules(config.rule_dirs)
    present = {r.id for r in loaded}
    active = select_rules(loaded, config, select=[r for r in rule_ids if r in present])
    result = Engine(active, config).lint_files(files)
    return result.findings, result.errors


def score(corpus: Corpus, findings: list[Finding], files: list[SourceFile]) -> Score:
    texts = {f.path: f.text for f in files}
    result = Score()
    predicted: set[Key] = set()
    for finding in findings:
        if finding.rule not in corpus.rules:
            continue
        function = finding.function
        if not function:
            span = function_at(texts.get(finding.path, ""), finding.line)
            function = span.name if span else "<file>"
        key = (finding.path, function, finding.rule)
        predicted.add(key)
        result.messages.setdefault(key, f"line {finding.line}: {finding.message}")
    expected = {(p, f, r) for (p, f), rules in corpus.labels.items() for r in rules}
    result.tp = predicted & expected
    result.fn = expected - predicted
    result.fp = predicted - expected
    result.known = set(corpus.known_fp)
    return result


def missing_rules(corpus: Corpus) -> list[str]:
    present = {r.id for r in load_rules(Config().rule_dirs)}
    return [r for r in corpus.rules if r not in present]


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "  n/a"


def report(corpus: Corpus, result: Score, seconds: float, nfiles: int) -> str:
    lines = [f"{'rule':28} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
    for rule in corpus.rules:
        tp, fp, fn = result.per_rule(rule)
        lines.append(
            f"{rule:28} {tp:4} {fp:4} {fn:4} {_ratio(tp, tp + fp):>9} {_ratio(tp, tp + fn):>7}"
        )
    tp, fp, fn = len(result.tp), len(result.fp), len(result.fn)
    lines.append(
        f"{'overall':28} {tp:4} {fp:4} {fn:4} {_ratio(tp, tp + fp):>9} {_ratio(tp, tp + fn):>7}"
    )
    clean = sum(1 for rules in corpus.labels.values() if not rules)
    lines.append(
        f"labelled functions: {len(corpus.labels)} ({clean} clean); files audited: {nfiles}; "
        f"audit wall time: {seconds:.2f} s (target < 30 s)"
    )
    absent = missing_rules(corpus)
    if absent:
        lines.append("rules not loaded (their labels count as misses): " + ", ".join(absent))
    lines.append(f"known false positives (listed in the labels): {len(result.known)}")
    lines.extend(f"  {r} {p} {f}()" for p, f, r in sorted(result.known))
    lines.append(f"mismatches: {len(result.mismatches)}")
    lines.extend("  " + m for m in result.mismatches)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", help="embedded tree version (default: each one with a corpus)")
    parser.add_argument("--json", action="store_true", help="print figures as JSON")
    parser.add_argument(
        "--profile", action="store_true", help="also time each rule alone over the corpus"
    )
    args = parser.parse_args(argv)
    from patchbot.kernel.tree import installed_trees

    versions = [args.tree] if args.tree else [t.version for t in installed_trees()]
    status = 0
    for version in versions:
        if not labels_for(version).is_file():
            continue
        sys.stdout.write(f"== linux-source-{version}\n")
        status |= run_one(version, args)
    return status


def run_one(version: str, args: argparse.Namespace) -> int:
    from patchbot.kernel.tree import tree_for

    tree = tree_for(version)
    corpus = load_corpus(labels_for(version))
    start = time.perf_counter()
    files = corpus_sources(corpus, tree)
    findings, errors = run_rules(corpus.rules, files)
    seconds = time.perf_counter() - start
    result = score(corpus, findings, files)
    if args.profile:
        for rule in corpus.rules:
            begin = time.perf_counter()
            run_rules([rule], files)
            sys.stdout.write(f"time {rule:28} {time.perf_counter() - begin:6.2f} s (warm caches)\n")
    if args.json:
        figures = {
            rule: dict(zip(("tp", "fp", "fn"), result.per_rule(rule), strict=True))
            for rule in corpus.rules
        }
        json.dump(
            {
                "rules": figures,
                "seconds": seconds,
                "mismatches": result.mismatches,
                "errors": errors,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report(corpus, result, seconds, len(files)))
        for error in errors:
            sys.stdout.write(f"internal error: {error}\n")
    return 1 if result.mismatches or errors else 0


if __name__ == "__main__":
    sys.exit(main())
