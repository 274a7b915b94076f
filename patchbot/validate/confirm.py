"""Confirm lint by running: each CoCo path finding of `lint` against the model's runs.

A path rule says "on this path the pages reach X after Y failed"; the model runs the
patched driver through explored sequences and faults.  A lint finding in a modelled
driver file is *reproduced* when a model finding of a matching violation kind has the
functions of lint's path in its event trace (_match); the confirmation names the steps
(the model finding's sequence), the fault and the model's violation.  Otherwise it is
listed as not reproduced, with the reason: the model has no counterpart for the rule,
or no explored sequence x fault showed a matching violation in that function.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patchbot.api import Finding
from patchbot.series.model import Series
from patchbot.validate.boot import BootReport

# lint rule -> the model violations that show the same defect when the driver runs
REPRODUCED_BY: dict[str, frozenset[str]] = {
    "leak-on-failure": frozenset(
        {"free-after-failed-conversion", "shared-to-buddy", "unplug-after-failed-conversion"}
    ),
    "free-while-shared": frozenset({"shared-to-buddy", "free-after-failed-conversion"}),
    "rollback-overreach": frozenset({"double-accept", "free-after-failed-conversion"}),
    "cancel-without-undo": frozenset({"cancel-without-undo", "double-accept"}),
    "decrypt-before-unplug": frozenset({"unplug-private", "unplug-after-failed-conversion"}),
    "double-conversion": frozenset({"double-accept"}),
    "convert-unplugged-range": frozenset({"accept-unplugged", "convert-unplugged"}),
    "dma-shared-without-attr": frozenset(
        {"dma-shared-without-cc-attr", "dma-through-stale-mapping"}
    ),
    "shared-mapping-encrypted": frozenset({"shared-read-through-encrypted-mapping"}),
}


@dataclass
class Confirmation:
    lint: Finding
    model: Finding | None  # the model finding that reproduces it
    reason: str = ""  # why it is not reproduced

    def describe(self) -> str:
        where = f"{self.lint.path}:{self.lint.line} [{self.lint.rule}]"
        if self.model is None:
            return f"{where} not reproduced: {self.reason}"
        steps = self.model.message.split("]")[0].lstrip("[")
        return (
            f"{where} reproduced by the model: steps {steps}, fault {self.model.fault}, "
            f"platform {self.model.platform} -> {self.model.rule} at "
            f"{self.model.path}:{self.model.line}"
        )


def confirm(lint_findings: Sequence[Finding], reports: Sequence[BootReport]) -> list[Confirmation]:
    """One Confirmation per CoCo path finding of lint in a file the model booted."""
    by_path: dict[str, list[Finding]] = {}
    for report in reports:
        for f in report.findings:
            by_path.setdefault(f.path, []).append(f)
    booted = {r.source_path for r in reports if r.matrix is not None}
    out = []
    for finding in lint_findings:
        if finding.path not in booted:
            continue
        kinds = REPRODUCED_BY.get(finding.rule)
        if kinds is None:
            if finding.rule in _PATH_RULES:
                out.append(Confirmation(finding, None, "the model has no counterpart for it"))
            continue
        match = _match(finding, by_path.get(finding.path, []), kinds)
        if match is not None:
            out.append(Confirmation(finding, match))
            continue
        where = f"in {finding.function}()" if finding.function else f"at line {finding.line}"
        out.append(
            Confirmation(
                finding,
                None,
                f"no explored sequence x fault showed {' / '.join(sorted(kinds))} {where}",
            )
        )
    return out


def _match(finding: Finding, model: list[Finding], kinds: frozenset[str]) -> Finding | None:
    """The first model finding (the simplest run) that shows the lint path.

    Lint's path names functions ("virtio_mem_coco_share() fails here", "...() called
    here"); the model's events carry the driver function of each API call.  A model
    finding matches when its kind is one the rule predicts and, for a run with a fault,
    the function whose call the fault failed is on the lint path (for a clean run: any
    function of its trace is).
    """
    names = {finding.function} if finding.function else set()
    for text in [finding.message, *(loc.note or "" for loc in finding.trace)]:
        names.update(_CALLED.findall(text))
    for m in model:
        if m.rule not in kinds:
            continue
        failed = {loc.function for loc in m.trace if "(injected)" in (loc.note or "")}
        funcs = {loc.function for loc in m.trace} | {m.function}
        if failed:
            if failed & names:  # the run failed the very call the lint path starts from
                return m
            continue
        if funcs & names:
            return m
    return None


_CALLED = re.compile(r"\b(\w+)\(\)")


# CoCo path rules of lint (rules/*.py that follow conversions along paths)
_PATH_RULES = frozenset(REPRODUCED_BY) | {"conversion-ordering", "conversion-outside-guard"}


def lint_path_findings(series: Series, tree: Path) -> list[Finding]:
    """The CoCo path findings `patchbot lint --tree TREE --select ...` gives the series."""
    from patchbot.config import load_config
    from patchbot.engine import Engine, load_rules, select_rules
    from patchbot.series import images
    from patchbot.series.load import read_tree_images

    config = load_config()
    rules = load_rules(config.rule_dirs)
    known = {r.rule.id for r in rules}
    engine = Engine(select_rules(rules, config, select=sorted(_PATH_RULES & known)), config)
    if not series.pre_images:
        read_tree_images(series, str(tree))
    return list(engine.lint_series(series, images.source_files).findings)


def render(confirmations: Sequence[Confirmation]) -> str:
    if not confirmations:
        return ""
    done = sum(1 for c in confirmations if c.model is not None)
    lines = [f"lint confirmed by running: {done} of {len(confirmations)} CoCo path finding(s)"]
    lines += [f"  {c.describe()}" for c in confirmations]
    return "\n".join(lines) + "\n"
