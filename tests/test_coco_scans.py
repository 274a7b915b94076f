"""The byte scans that stand in for the per-function query must find what it finds.

scan_assignments() finds assignments from their "=" bytes and scan_calls() calls from
their callee's name; Function.named_calls() places each of those calls in the CFG node
whose statement is its nearest ancestor.  Each is compared with the query result
(exprs.Outline) and with calls(), on real kernel files and on generated text full of
look-alikes ("==", "+=", "=" in strings and comments, names inside longer names, names
that are not called).  Function.words, split at C speed, must equal the identifiers
its regex finds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchbot.cparse import analyze_file
from patchbot.cparse.exprs import Outline, as_call, scan_assignments, scan_calls
from patchbot.cparse.functions import Function

WORD_RE = re.compile(r"[A-Za-z_]\w*")  # what Function.words must equal
KERNEL_FILES = [
    "arch/x86/mm/mem_encrypt_amd.c",
    "drivers/virtio/virtio_mem.c",
    "kernel/dma/direct.c",
    "arch/x86/coco/tdx/tdx.c",
]


def _spans(nodes: list) -> list[tuple[int, int, str]]:
    return [(n.start_byte, n.end_byte, n.type) for n in nodes]


def _check_function(func: Function) -> int:
    """Compare the scans with the query on one function; returns the calls compared."""
    outline = Outline.of(func.node)
    raw = func.node.text or b""
    assert func.words == frozenset(WORD_RE.findall(raw.decode("utf-8", "replace"))), func.name
    assert _spans(scan_assignments(func.node, raw)) == _spans(outline.assignments), func.name
    names = sorted({c.name for c in (as_call(n) for n in outline.calls) if c is not None})
    # every name the query saw, plus names that are spelled but never called
    spelled = sorted(set(names) | {w for w in func.words if len(w) > 3})
    assert _spans(scan_calls(func.node, raw, spelled)) == _spans(outline.calls), func.name
    wanted = frozenset(names[::2])  # a subset, as the catalogue is
    expected = [(nid, c.node.start_byte) for nid, c in func.calls() if c.name in wanted]
    fresh = Function(func.name, func.node, func.params, func.start_line, func.end_line)
    fresh.norm = func.norm
    got = [(nid, c.node.start_byte) for nid, c in fresh.named_calls(wanted)]
    assert got == expected, func.name
    return len(expected)


@pytest.mark.kernel_tree
@pytest.mark.slow
def test_scans_match_the_query_on_kernel_files(kernel_tree: Path) -> None:
    checked = calls = 0
    for rel in KERNEL_FILES:
        text = (kernel_tree / rel).read_text(encoding="utf-8", errors="replace")
        for func in analyze_file(text).functions:
            if func.node.has_error:
                continue  # the scans are used only on trees without errors
            calls += _check_function(func)
            checked += 1
    assert checked > 150 and calls > 300  # the files were read and hold real code


PIECES = [
    "\tx = y;\n",
    "\tx += 4;\n",
    "\tx <<= 1;\n",
    "\tif (x == y || x != z || a <= b || a >= b)\n\t\tz = 1;\n",
    '\tpr_info("a=b %d", x);\n',
    "\t/* p = q; kfree(p) */\n",
    "\tint n = 3, m = n = 4;\n",
    "\tstruct s v = { .a = 1, .b = kfree_sensitive(p) };\n",
    "\tkfree(p);\n",
    "\tkfree (p);\n",
    "\tmykfree(p);\n",
    "\tkfree_sensitive(p);\n",
    "\tfn = kfree;\n",
    "\tarr[i = 1] = kfree(q);\n",
    "\tc = '=';\n",
    "\ty = 0x1fUL + 10ULL + 3;\n",
    "\tz = __x2 + _9 + a1b2;\n",
    "\t/* naïve */ x = 1;\n",
    "\twhile ((rc = set_memory_decrypted(a, 1)))\n\t\tkfree(a);\n",
    "\tfor (i = 0; i < n; i++) {\n\t\tkfree(b[i]);\n\t}\n",
    "\tswitch (kfree(x)) {\n\tcase 0:\n\t\ty = 2;\n\t\tbreak;\n\t}\n",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12))
def test_scans_match_the_query_on_generated_code(parts: list[str]) -> None:
    text = "static int f(int *p)\n{\n" + "".join(parts) + "\treturn 0;\n}\n"
    (func,) = analyze_file(text).functions
    if not func.node.has_error:
        _check_function(func)
