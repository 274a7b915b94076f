"""SARIF 2.1.0 for code-scanning UIs.

tool.driver.rules comes from the rule docstrings (shortDescription = summary,
fullDescription = "What it does", help.markdown = the whole docstring); results carry
locations, relatedLocations and a codeFlow when the finding has a trace.
"""

from __future__ import annotations

import json
from typing import Any

from patchbot import __version__
from patchbot.api import Finding, Location, Severity
from patchbot.engine import LintResult, LoadedRule
from patchbot.engine.keys import stable_key
from patchbot.ruledoc import parse_doc

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _physical(loc: Finding | Location) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(loc.line, 1), "startColumn": max(loc.col, 1)}
    return {"artifactLocation": {"uri": loc.path or "COMMIT_MSG"}, "region": region}


def _location(loc: Finding | Location, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"physicalLocation": _physical(loc)}
    if loc.function:
        out["logicalLocations"] = [{"name": loc.function, "kind": "function"}]
    if message:
        out["message"] = {"text": message}
    return out


def rule_descriptor(item: LoadedRule) -> dict[str, Any]:
    rule = item.rule
    doc = parse_doc(item.doc)
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": doc.description()},
        "help": {"text": item.doc.strip(), "markdown": item.doc.strip()},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"scope": rule.scope, "confidence": rule.confidence},
    }
    if rule.aliases:
        descriptor["deprecatedIds"] = list(rule.aliases)
    return descriptor


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [_location(finding)],
        "partialFingerprints": {
            # line moves must not change it: numbers in the message are masked
            "patchbotKey/v1": "|".join(str(p) for p in stable_key(finding)),
        },
    }
    if finding.rule in index:
        out["ruleIndex"] = index[finding.rule]
    if finding.related:
        out["relatedLocations"] = [
            {"id": n, **_location(loc, loc.note or "related location")}
            for n, loc in enumerate(finding.related, start=1)
        ]
    if finding.trace:
        steps = [{"location": _location(loc, loc.note or None)} for loc in finding.trace]
        out["codeFlows"] = [{"threadFlows": [{"locations": steps}]}]
    props = {
        k: v
        for k, v in (
            ("patch", finding.patch),
            ("platform", finding.platform),
            ("fault", finding.fault),
            ("suggestion", finding.suggestion),
        )
        if v
    }
    if props:
        out["properties"] = props
    return out


def report_dict(result: LintResult) -> dict[str, Any]:
    rules = sorted(result.rules, key=lambda r: r.id)
    index = {item.id: n for n, item in enumerate(rules)}
    notifications = [{"level": "warning", "message": {"text": w}} for w in result.warnings] + [
        {"level": "error", "message": {"text": e}} for e in result.errors
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "patchbot",
                        "version": __version__,
                        "rules": [rule_descriptor(item) for item in rules],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": [_result(f, index) for f in result.findings],
            }
        ],
    }


def render(result: LintResult) -> str:
    return json.dumps(report_dict(result), indent=2) + "\n"
