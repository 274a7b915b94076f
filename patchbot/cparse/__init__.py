"""C analysis with tree-sitter-c: functions, CFGs, path queries, memory-path catalogue.

Layers (each a small module):

* ``parse``       — ``parse(text)`` raw tree; ``parse_kernel(text)`` after same-length
  kernel-idiom normalisation (``normalize``); ``function_spans``/``function_at``;
  ``error_stats`` (ERROR-node count and lines, the parse-quality figure).
* ``cfg``         — ``Cfg``: one node per statement/condition; edges ``flow``, ``true``/
  ``false`` (carrying the condition node), ``case``/``default``, ``goto``, ``break``,
  ``continue``, ``back``.  for_each macros are loops, scoped_guard() always runs,
  ``do { } while (0)`` runs once.
* ``catalogue``   — ``load_catalogue()`` reads rules/catalogue/memory_paths.toml:
  conversions (direction, memory arg), frees, host hand-backs, mappings (prot arg), DMA
  maps (attrs arg), CoCo guards.  ``ApiEntry.kind`` is one of those.
* ``summaries``   — same-file wrappers (a helper returning a conversion's result is a
  conversion; a helper freeing/unplugging a parameter is a free/hand-back), to a fixed
  point; ``FileAnalysis.catalogue`` is the base catalogue plus these.
* ``functions``   — ``analyze_file(text) -> FileAnalysis`` (cached by content):
  ``functions`` (``Function``: name, params, cfg, aliases, ``events``: every catalogued
  call as a ``MemEvent`` with its CFG node, ``ApiEntry``, buffer key and result var;
  ``T *p __free(kfree)`` adds an implicit free event on every later ``return`` and a
  ``transfer`` event where ``no_free_ptr(p)``/``return_ptr(p)``/``p = NULL`` ends it).
  A function's CFG, aliases, calls and assignments are built on first use; functions
  naming no catalogued call get none.  ``calls()`` lists every call (one C-level query per
  function, ``exprs.Outline``); events and summaries use ``named_calls(names)``, which in
  a tree without errors finds just those calls from their names' bytes (``scan_calls``),
  as ``assignments()`` finds assignments from their "=" bytes (``scan_assignments``).
* ``paths``       — ``follow_conversion(func, event)`` yields ``PathHit`` for every later
  catalogued call on the same memory with the governing conversion's status on that path
  ("failed" / "ok" / "unchecked") and a ``trace(path)`` ready for ``Finding.trace``.
* ``objects``     — what a path is about: a converted lvalue set to NULL (the later
  free is a no-op), its root variable rebound (the next per-CPU struct), constant flags
  (``leak = true``) and the branches they decide; ``paths`` ends or prunes on them.
* ``treedb``      — cross-file summaries of exported functions (converts parameter i and
  returns nonzero when that failed; free / hand-back wrappers), cached by file content;
  ``with treedb.active(db)`` makes ``analyze_file`` extend each file's catalogue with the
  entries it names.  The engine overlays the linted files on the database in effect.
* ``treestore``   — ``for_tree(tree)``: a whole tree's treedb, built once and stored under
  the cache with each summarised file's hash (``lint --tree`` uses it).
* ``fragments``   — hunk-only files: a body whose header the diff omits gets a synthetic
  ``__patchbot_fragment_<line>`` header on the blank line before it (line numbers kept);
  ``Function.display_name`` is None for those.  Works on quoted, flattened review
  replies too (no indentation: column-0 body code; fragments end at their balancing
  brace); ``function_spans(text, include_fragments=True)`` lists them.
* ``coco``        — facts shared by the CoCo rules: ``file_hits`` (all path hits of a
  file), ``decrypted_memory`` (fields holding decrypted memory, for cross-function
  checks), ``prot_is_decrypted``, ``is_cc_aware``, ``names_a_field``.
* ``exprs``       — calls, ``buffer_key``, ``implied_status`` (what ``if (rc)``,
  ``if (!rc)``, ``if (rc < 0)``, ``if (WARN_ON(f()))``... say about a call's result).

Deliberately coarse memory matching: a memory argument is reduced to one key — the root
identifier after peeling casts, ``&``/``*``, address/page converters (``__va``,
``page_address``, ``virt_to_page``, ``page_to_pfn``...), arithmetic and indexing, and
field chains reduced to the last field (``vm->sbm.buf`` and ``priv->buf`` both key
``buf``); unknown calls are looked through to their last argument.  Simple renames in a
function (``addr = (unsigned long)page_address(page)``) are merged.  Ranges and offsets are
not compared: ``free_pages(addr + PAGE_SIZE)`` matches a conversion of ``addr``.

Example::

    from patchbot.cparse import analyze_file, follow_conversion

    fa = analyze_file(source_text)
    for func in fa.functions:
        for conv in func.events_of("conversion"):
            for hit in follow_conversion(func, conv):
                if hit.event.kind == "free" and hit.status == "failed":
                    print(func.name, hit.event.line, hit.trace("x.c", func.name))
"""

from tree_sitter import Node  # re-exported: rule modules type-hint nodes without tree_sitter

from patchbot.cparse.catalogue import ApiEntry, Catalogue, load_catalogue
from patchbot.cparse.cfg import EXIT, Cfg, CfgNode, Edge
from patchbot.cparse.exprs import Call, buffer_key, calls_in, implied_status, text_of
from patchbot.cparse.functions import FileAnalysis, Function, MemEvent, analyze_file
from patchbot.cparse.parse import (
    FunctionSpan,
    error_stats,
    function_at,
    function_spans,
    parse,
    parse_kernel,
)
from patchbot.cparse.paths import PathHit, PathStep, follow_conversion

__all__ = [
    "EXIT",
    "ApiEntry",
    "Call",
    "Catalogue",
    "Cfg",
    "CfgNode",
    "Edge",
    "FileAnalysis",
    "Function",
    "FunctionSpan",
    "MemEvent",
    "Node",
    "PathHit",
    "PathStep",
    "analyze_file",
    "buffer_key",
    "calls_in",
    "error_stats",
    "follow_conversion",
    "function_at",
    "function_spans",
    "implied_status",
    "load_catalogue",
    "parse",
    "parse_kernel",
    "text_of",
]
