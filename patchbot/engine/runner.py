"""Run the selected rules over a series (patch mode) or over whole files (--file/audit).

Patch mode keeps only what each patch introduces (see introduced.py); file mode keeps
everything.  A rule that raises is reported as an internal error naming the rule, and
the other rules still run: one broken rule must not hide the findings of the rest.
A rule run that overruns its CPU budget (budget.py) is stopped and leaves one
``internal/timeout`` finding naming the rule and the file; the others still report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from patchbot.api import Context, Finding, Severity, SourceFile
from patchbot.config import Config, fail_threshold
from patchbot.cparse import treedb
from patchbot.cparse.limits import skipped
from patchbot.engine.budget import DEFAULT_RULE_BUDGET, RuleTimeout, time_budget
from patchbot.engine.introduced import fill_function, keep_introduced
from patchbot.engine.keys import stable_key
from patchbot.engine.loader import LoadedRule
from patchbot.engine.once import ask_once
from patchbot.engine.selection import ActiveRule
from patchbot.engine.suppress import Key, inline_ignored, is_inline_suppressed, path_ignored
from patchbot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INTERNAL
from patchbot.runcache import start_run
from patchbot.series.gcpolicy import fewer_collections
from patchbot.series.model import Patch, Series

log = logging.getLogger(__name__)

SourcesFor = Callable[[Series, Patch], list[SourceFile]]

# Rules allocate many short-lived tree-sitter node wrappers; with the default gen0
# threshold (700) the collector runs so often that, as the parse caches grow, its
# full passes cost ~30% of a 40k-line run (bench/lint_bench.py at 4x).  What a lint
# keeps alive is its caches, not garbage (see series/gcpolicy.py): on the bench series
# (~50,000 tracked objects kept) one pass cost 2% of the run's instructions and found
# nothing.  The threshold sits well above what such a series keeps and still bounds
# the cyclic garbage a huge audit run could pile up between passes.
GC_GEN0_THRESHOLD = 250_000

TIMEOUT_RULE = "internal/timeout"  # the finding a rule run past its budget leaves


def _skipped(files: Iterable[SourceFile]) -> list[str]:
    """Input warnings for what the bounded analyses skipped (cparse/limits.py)."""
    out: list[str] = []
    for file in files:
        out.extend(
            f"{file.path}: {what}"
            for what in skipped(file.text)
            if f"{file.path}: {what}" not in out
        )
    return out


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # damaged input, from the parsers
    errors: list[str] = field(default_factory=list)  # internal errors: rules that crashed
    series: Series | None = None
    rules: list[LoadedRule] = field(default_factory=list)  # the rules that ran
    mode: str = "series"  # "series" or "files"
    suppressed: int = 0  # dropped by inline comments or [[ignore]]
    baselined: int = 0  # dropped because the baseline knows them
    baselined_findings: list[Finding] = field(default_factory=list)

    def exit_code(self, fail_on: str) -> int:
        if self.errors:
            return EXIT_INTERNAL
        threshold = fail_threshold(fail_on)
        if threshold is not None and any(f.severity >= threshold for f in self.findings):
            return EXIT_FINDINGS
        return EXIT_CLEAN


class Engine:
    def __init__(
        self,
        active: Sequence[ActiveRule],
        config: Config | None = None,
        *,
        baseline: set[Key] | None = None,
        rule_budget: float | None = None,
    ) -> None:
        self.active = list(active)
        self.config = config or Config()
        self.baseline = baseline or set()
        # CPU seconds one check() call may take (budget.py); 0 turns the budget off
        if rule_budget is None:
            rule_budget = self.config.rule_time_budget
        self.rule_budget = DEFAULT_RULE_BUDGET if rule_budget is None else rule_budget
        self._errors: list[str] = []
        self._timeouts: list[Finding] = []
        # CPU seconds inside each rule's check(), summed over runs (bench/lint_bench.py)
        self.timings: dict[str, float] = {}

    # -- running one rule -------------------------------------------------------------

    def _run(
        self, rule: ActiveRule, ctx: Context, where: str, patch: Patch | None = None, note: str = ""
    ) -> list[Finding]:
        """``rule`` on ``ctx``; a crash is reported as happening on ``where`` (a file in
        ``patch``: the label is only formatted then, not for each of the ~800 runs)."""
        start = time.process_time()
        try:
            with time_budget(self.rule_budget):
                produced = list(rule.loaded.check(ctx))
            for item in produced:
                if not isinstance(item, Finding):
                    raise TypeError(f"check() yielded {type(item).__name__}, not a Finding")
        except RuleTimeout:
            self._timed_out(rule, ctx, where, patch, note)
            return []
        except Exception as exc:
            if patch is not None:
                where = f"{where} in [PATCH {patch.label}]"
            message = f"rule {rule.id} crashed on {where}{note}: {type(exc).__name__}: {exc}"
            log.error("%s", message, exc_info=log.isEnabledFor(logging.DEBUG))
            self._errors.append(message)
            return []
        finally:
            self.timings[rule.id] = self.timings.get(rule.id, 0.0) + time.process_time() - start
        return produced

    def _timed_out(
        self, rule: ActiveRule, ctx: Context, where: str, patch: Patch | None, note: str
    ) -> None:
        """One finding naming the rule and the file; whatever the rule found there is lost."""
        path = ctx.file.path if ctx.file is not None else ""
        message = (
            f"rule {rule.id} stopped after its {self.rule_budget:g} s budget on {where}{note}; "
            "its findings there are missing"
        )
        log.info("%s", message)  # (the finding reports it)
        self._timeouts.append(
            Finding(
                rule=TIMEOUT_RULE,
                severity=Severity.WARNING,
                message=message,
                path=path,
                line=1,
                patch=patch.label if patch is not None else None,
            )
        )

    def _file_rule(
        self,
        rule: ActiveRule,
        file: SourceFile,
        series: Series | None,
        patch: Patch | None,
        files: list[SourceFile],
    ) -> list[Finding]:
        ctx = Context(
            rule=rule.loaded.rule,
            options=rule.options,
            series=series,
            patch=patch,
            file=file,
            files=files,
        )
        found = [fill_function(f, file.text) for f in self._run(rule, ctx, file.path, patch)]
        if patch is None:
            return found

        def pre_findings() -> list[Finding]:
            if file.pre_text is None:
                return []
            pre = SourceFile(file.path, file.pre_text, frozenset(), file.complete, None)
            pre_ctx = Context(
                rule=rule.loaded.rule,
                options=rule.options,
                series=series,
                patch=patch,
                file=pre,
                files=files,
            )
            found = self._run(rule, pre_ctx, file.path, patch, " (pre-image)")
            return [fill_function(f, pre.text) for f in found]

        return keep_introduced(found, file, patch, pre_findings)

    # -- the two modes ----------------------------------------------------------------

    def lint_files(self, files: Sequence[SourceFile]) -> LintResult:
        """--file / audit mode: every line counts, every finding is kept."""
        start_run()  # the caches hold one run (runcache.py)
        with fewer_collections(GC_GEN0_THRESHOLD):
            return self._lint_files(files)

    def lint_series(self, series: Series, sources: SourcesFor) -> LintResult:
        """Patch mode: file rules per changed C file per patch, patch rules per patch,
        series rules once; only what the patches introduce is kept."""
        start_run()  # the caches hold one run (runcache.py)
        with fewer_collections(GC_GEN0_THRESHOLD):
            return self._lint_series(series, sources)

    def _lint_files(self, files: Sequence[SourceFile]) -> LintResult:
        # the files are (part of) the tree here: their cross-file summaries serve every rule
        with treedb.active(treedb.with_files(files)):
            return self._lint_files_in_db(files)

    def _lint_files_in_db(self, files: Sequence[SourceFile]) -> LintResult:
        self._errors = []
        self._timeouts = []
        files = list(files)
        series = Series(source="files")
        raw: list[Finding] = []
        for rule in self._by_scope("file"):
            for file in files:
                raw.extend(self._file_rule(rule, file, series, None, files))
        for rule in self._by_scope("series"):
            ctx = Context(rule=rule.loaded.rule, options=rule.options, series=series, files=files)
            raw.extend(self._run(rule, ctx, "the files"))
        texts: dict[tuple[str | None, str], str] = {(None, f.path): f.text for f in files}
        return self._finish(raw, texts, series, mode="files", warnings=_skipped(files))

    def _lint_series(self, series: Series, sources: SourcesFor) -> LintResult:
        self._errors = []
        self._timeouts = []
        raw: list[Finding] = []
        # (patch label, path) -> that patch's post-image; (None, path) -> the latest one,
        # for series-wide findings
        texts: dict[tuple[str | None, str], str] = {}
        every_file: list[SourceFile] = []
        per_patch = [(patch, sources(series, patch)) for patch in series.patches]
        latest = {f.path: f for _patch, files in per_patch for f in files}
        # cross-file summaries: the series' post-images over the tree database in effect
        with treedb.active(treedb.with_files(latest.values())):
            return self._lint_patches(series, per_patch, texts, every_file, raw)

    def _lint_patches(
        self,
        series: Series,
        per_patch: list[tuple[Patch, list[SourceFile]]],
        texts: dict[tuple[str | None, str], str],
        every_file: list[SourceFile],
        raw: list[Finding],
    ) -> LintResult:
        file_rules = self._by_scope("file")
        patch_rules = self._by_scope("patch")
        for patch, files in per_patch:
            every_file.extend(files)
            for file in files:
                texts[(patch.label, file.path)] = texts[(None, file.path)] = file.text
            for rule in file_rules:
                for file in files:
                    raw.extend(self._file_rule(rule, file, series, patch, files))
            for rule in patch_rules:
                ctx = Context(
                    rule=rule.loaded.rule,
                    options=rule.options,
                    series=series,
                    patch=patch,
                    files=files,
                )
                raw.extend(self._run(rule, ctx, f"[PATCH {patch.label}]"))
        for rule in self._by_scope("series"):
            ctx = Context(
                rule=rule.loaded.rule, options=rule.options, series=series, files=every_file
            )
            raw.extend(self._run(rule, ctx, "the series"))
        warnings = list(series.warnings)
        for patch in ([series.cover] if series.cover else []) + series.patches:
            # unnumbered patches are named by where they came from (their title may be empty)
            where = patch.label if patch.number is not None else (patch.source or patch.title)
            prefix = f"[PATCH {where}] " if where else ""
            warnings.extend(prefix + w for w in patch.warnings)
        warnings.extend(_skipped(every_file))
        return self._finish(raw, texts, series, mode="series", warnings=warnings)

    # -- shared tail ------------------------------------------------------------------

    def _by_scope(self, scope: str) -> list[ActiveRule]:
        return [r for r in self.active if r.loaded.rule.scope == scope]

    def _finish(
        self,
        raw: Iterable[Finding],
        texts: dict[tuple[str | None, str], str],
        series: Series,
        *,
        mode: str,
        warnings: list[str],
    ) -> LintResult:
        names = {r.id: r.names for r in self.active}
        ignored_lines = {where: inline_ignored(text) for where, text in texts.items()}
        result = LintResult(
            series=series,
            rules=[r.loaded for r in self.active],
            mode=mode,
            warnings=warnings,
            errors=list(self._errors),
        )
        seen: set[tuple[object, ...]] = set()
        order = {p.label: i for i, p in enumerate(series.patches)}
        ignores = self.config.ignores
        for finding in [*raw, *self._timeouts]:
            ident = (
                finding.rule,
                finding.path,
                finding.line,
                finding.col,
                finding.message,
                finding.patch,
            )
            if ident in seen:
                continue
            seen.add(ident)
            rule_names = names.get(finding.rule, {finding.rule})
            # the suppression comment is looked up in the text the finding was made on
            lines = ignored_lines.get((finding.patch, finding.path)) or ignored_lines.get(
                (None, finding.path), {}
            )
            # (each test only where there is something to match: most runs have none)
            if (lines and is_inline_suppressed(finding, rule_names, lines)) or (
                ignores and path_ignored(finding, rule_names, ignores)
            ):
                result.suppressed += 1
                continue
            if self.baseline and stable_key(finding) in self.baseline:
                result.baselined += 1
                result.baselined_findings.append(finding)
                continue
            result.findings.append(finding)
        result.findings.sort(
            key=lambda f: (order.get(f.patch or "", -1), f.path, f.line, f.col, f.rule, f.message)
        )
        once = {r.id for r in self.active if r.loaded.rule.once_per_series}
        if once and mode == "series":
            result.findings = ask_once(result.findings, once)
        return result
