"""C parsing with tree-sitter-c: functions, calls, comments, control flow."""

from patchbot.cparse.parse import FunctionSpan, function_at, function_spans, parse

__all__ = ["FunctionSpan", "function_at", "function_spans", "parse"]
