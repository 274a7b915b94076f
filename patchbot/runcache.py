"""The content-keyed caches of a lint run, emptied when the next run starts.

Parsing, normalising, tokenising and analysing are cached by file text so that the ~20
rules of a run share one parse of each file.  Across runs they buy nothing (a bot sees
each series once) and only keep memory: every cache below is an lru_cache (bounded) or
a side channel with its own bound, and ``start_run()`` empties them all, so a process
that lints for weeks (``patchbot watch``) holds at most one run's analyses.
``tests/test_lint_soak.py`` lints and reviews 1,000 series in one process and checks
that the resident size stays flat.

What a rule module caches itself (with lru_cache) is bounded by its maxsize.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any


def _module(name: str) -> Any:
    # (patchbot.cparse re-exports functions named like its modules: parse, ...)
    return import_module(f"patchbot.{name}")


def _caches() -> list[Any]:
    placement, patterns, tokens = (
        _module("cparse.placement"),
        _module("patterns"),
        _module("tokens"),
    )
    coco, fragments = _module("cparse.coco"), _module("cparse.fragments")
    treedb = _module("cparse.treedb")
    functions, normalize, parse = (
        _module("cparse.functions"),
        _module("cparse.normalize"),
        _module("cparse.parse"),
    )
    return [
        parse.parse,
        parse.parse_kernel,
        parse.function_spans,
        normalize.normalize,
        fragments.synthesize_fragments,
        functions.analyze_file_with,
        coco._mentions_catalogued,
        coco._file_hits,
        coco._decrypted_memory,
        # one file's cross-file summaries, by content; a tree's database is on disk
        # (treestore.py), so a later run reads it back instead of keeping it here
        treedb.summarise_text,
        placement.mentions_conversion,
        placement.cfile,
        tokens.token_columns,
        tokens.scan,
        patterns.function_table,
    ]


def start_run() -> None:
    """Forget every analysis of the previous run (called by the engine)."""
    for cached in _caches():
        cached.cache_clear()
    _module("cparse.parse").forget_derived()
    _module("cparse.normalize").forget_line_edits()
    # token text -> kind: every identifier of every file (bounded at 200,000, ~20 MB,
    # which 1,000 small series reach)
    _module("tokens")._KINDS.clear()
