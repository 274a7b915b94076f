"""JSON report, version 1.  ``SCHEMA`` below is the contract (JSON Schema draft 2020-12).

Shape::

    {"version": 1, "tool": "patchbot", "mode": "series" | "files",
     "series": {"source", "cover": subject | null,
                "patches": [{"label", "subject", "message_id", "author", "applicable"}]},
     "findings": [{"rule", "severity", "message", "path", "line", "col", "function",
                   "patch": {"label", "subject", "message_id"} | null,
                   "related": [location], "trace": [location], "suggestion",
                   "platform", "fault"}],
     "warnings": ["damaged input ..."], "errors": ["rule X crashed ..."],
     "summary": {"error": n, "warning": n, "info": n, "suppressed": n, "baselined": n}}

A location is ``{"path", "line", "col", "function", "note"}``.
"""

from __future__ import annotations

import json
from typing import Any

from patchbot.api import Finding, Location, Severity
from patchbot.engine import LintResult
from patchbot.report.common import patch_by_label

VERSION = 1

_NULLABLE_STR = {"type": ["string", "null"]}
_LOCATION = {
    "type": "object",
    "required": ["path", "line", "col", "function", "note"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string"},
        "line": {"type": "integer", "minimum": 0},
        "col": {"type": "integer", "minimum": 0},
        "function": _NULLABLE_STR,
        "note": {"type": "string"},
    },
}
_PATCH_REF = {
    "type": ["object", "null"],
    "required": ["label", "subject", "message_id"],
    "additionalProperties": False,
    "properties": {k: {"type": "string"} for k in ("label", "subject", "message_id")},
}
_FINDING = {
    "type": "object",
    "required": [
        "rule",
        "severity",
        "message",
        "path",
        "line",
        "col",
        "function",
        "patch",
        "related",
        "trace",
        "suggestion",
        "platform",
        "fault",
    ],
    "additionalProperties": False,
    "properties": {
        "rule": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
        "severity": {"enum": ["error", "warning", "info"]},
        "message": {"type": "string", "minLength": 1},
        "path": {"type": "string"},
        "line": {"type": "integer", "minimum": 0},
        "col": {"type": "integer", "minimum": 0},
        "function": _NULLABLE_STR,
        "patch": _PATCH_REF,
        "related": {"type": "array", "items": _LOCATION},
        "trace": {"type": "array", "items": _LOCATION},
        "suggestion": _NULLABLE_STR,
        "platform": _NULLABLE_STR,
        "fault": _NULLABLE_STR,
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "patchbot lint report",
    "type": "object",
    "required": ["version", "tool", "mode", "series", "findings", "warnings", "errors", "summary"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": VERSION},
        "tool": {"const": "patchbot"},
        "mode": {"enum": ["series", "files"]},
        "series": {
            "type": "object",
            "required": ["source", "cover", "patches"],
            "properties": {
                "source": {"type": "string"},
                "cover": _NULLABLE_STR,
                "patches": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["label", "subject", "message_id", "author", "applicable"],
                        "properties": {
                            "label": {"type": "string"},
                            "subject": {"type": "string"},
                            "message_id": {"type": "string"},
                            "author": {"type": "string"},
                            "applicable": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "findings": {"type": "array", "items": _FINDING},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "array", "items": {"type": "string"}},
        "summary": {
            "type": "object",
            "required": ["error", "warning", "info", "suppressed", "baselined"],
            "properties": {
                k: {"type": "integer", "minimum": 0}
                for k in ("error", "warning", "info", "suppressed", "baselined")
            },
        },
    },
}


def location_json(loc: Location) -> dict[str, Any]:
    return {
        "path": loc.path,
        "line": loc.line,
        "col": loc.col,
        "function": loc.function,
        "note": loc.note,
    }


def finding_json(finding: Finding, patches: dict[str, Any]) -> dict[str, Any]:
    patch = patches.get(finding.patch or "")
    return {
        "rule": finding.rule,
        "severity": finding.severity.label,
        "message": finding.message,
        "path": finding.path,
        "line": finding.line,
        "col": finding.col,
        "function": finding.function,
        "patch": {"label": patch.label, "subject": patch.subject, "message_id": patch.message_id}
        if patch
        else None,
        "related": [location_json(loc) for loc in finding.related],
        "trace": [location_json(loc) for loc in finding.trace],
        "suggestion": finding.suggestion,
        "platform": finding.platform,
        "fault": finding.fault,
    }


def report_dict(result: LintResult) -> dict[str, Any]:
    series = result.series
    patches = patch_by_label(series)
    return {
        "version": VERSION,
        "tool": "patchbot",
        "mode": result.mode,
        "series": {
            "source": series.source if series else "",
            "cover": series.cover.subject if series and series.cover else None,
            "patches": [
                {
                    "label": p.label,
                    "subject": p.subject,
                    "message_id": p.message_id,
                    "author": f"{p.author_name} <{p.author_email}>"
                    if p.author_email
                    else p.author_name,
                    "applicable": p.applicable,
                }
                for p in (series.patches if series else [])
            ],
        },
        "findings": [finding_json(f, patches) for f in result.findings],
        "warnings": list(result.warnings),
        "errors": list(result.errors),
        "summary": {
            **{s.label: sum(1 for f in result.findings if f.severity == s) for s in Severity},
            "suppressed": result.suppressed,
            "baselined": result.baselined,
        },
    }


def render(result: LintResult) -> str:
    return json.dumps(report_dict(result), indent=2) + "\n"
