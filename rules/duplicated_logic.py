"""Two added blocks are the same code up to names or a mirrored operation.

What it does
------------
Looks at the code a series adds (across all its patches and files) and finds pairs of
blocks of five or more lines whose token shape is identical once identifiers and
constants are abstracted, and whose vocabulary is the same once mirrored operation
pairs are treated as one word (set_memory_encrypted/set_memory_decrypted, plug/unplug,
online/offline, lock/unlock, get/put, alloc/free, inc/dec ...).  It reports the second
block and points at the first.  Blocks that only hold braces, returns, breaks or goto
error ladders are ignored: those are meant to look alike.

It hashes windows of normalised tokens and keeps a winnowed subset of the hashes, so
its cost grows with the size of the series, not with its square.

Why is this bad?
----------------
A loop and its mirror image drift apart: the next fix lands in one copy only.  In the
virtio-mem CoCo RFC the reviewer pointed out that the loop in the going-online path
"looks extremely similar to the reverse of" the decrypt helper and asked for a helper
that both use.

Example
-------
```c
static void demo_mark_all_shared(struct demo_dev *dd, unsigned long blk)
{
        int idx, run;

        for (idx = 0; idx < dd->units_per_blk; idx += run) {
                run = 1;
                if (!demo_unit_present(dd, blk, idx))
                        continue;
                while (idx + run < dd->units_per_blk &&
                       demo_unit_present(dd, blk, idx + run))
                        run++;
                demo_set_decrypted(demo_blk_addr(blk) + idx * dd->unit_size,
                                   run * dd->unit_size);
        }
}

static int demo_mark_all_private(struct demo_dev *dd, unsigned long blk)
{
        int idx, run, err;

        for (idx = 0; idx < dd->units_per_blk; idx += run) {
                run = 1;
                if (!demo_unit_present(dd, blk, idx))
                        continue;
                while (idx + run < dd->units_per_blk &&
                       demo_unit_present(dd, blk, idx + run))
                        run++;
                err = demo_set_encrypted(demo_blk_addr(blk) + idx * dd->unit_size,
                                         run * dd->unit_size);
                if (err)
                        return err;
        }
        return 0;
}
```

Use instead
-----------
```c
typedef int (*demo_range_fn)(unsigned long addr, unsigned long size);

static int demo_for_each_present_run(struct demo_dev *dd, unsigned long blk,
                                     demo_range_fn fn)
{
        int idx, run, err;

        for (idx = 0; idx < dd->units_per_blk; idx += run) {
                run = 1;
                if (!demo_unit_present(dd, blk, idx))
                        continue;
                while (idx + run < dd->units_per_blk &&
                       demo_unit_present(dd, blk, idx + run))
                        run++;
                err = fn(demo_blk_addr(blk) + idx * dd->unit_size, run * dd->unit_size);
                if (err)
                        return err;
        }
        return 0;
}

static int demo_mark_all_private(struct demo_dev *dd, unsigned long blk)
{
        return demo_for_each_present_run(dd, blk, demo_set_encrypted);
}
```

Known false positives
---------------------
Deliberately parallel code, e.g. a register-table setup written out twice for two
hardware generations, or generated-looking tables of calls.  Long error ladders with
many distinct cleanup calls can also match when both sides release the same objects.
Raise ``min_lines`` or ``min_shared_identifiers`` in the config if this is noisy.

References
----------
- "Re: [PATCH RFC] virtio-mem: support Confidential Computing (CoCo) environments",
  David Hildenbrand, 2026-04-01: the going-online loop is the reverse of
  virtio_mem_sbm_coco_set_decrypted() and should be factored out in a helper.
- Documentation/process/coding-style.rst, section 6 "Functions": keep functions short and
  doing one thing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat, starmap
from operator import and_, le, ne

from patchbot.api import Context, Finding, Location, Rule, Severity, SourceFile
from patchbot.patterns import (
    Token,
    TokenColumns,
    function_of,
    line_runs,
    mirror_canonical,
    mirrored_difference,
    token_columns,
)
from patchbot.winnow import fingerprints, subtract_ranges

RULE = Rule(
    id="duplicated-logic",
    severity=Severity.WARNING,
    scope="series",
    summary="two added blocks are the same code up to names or a mirrored operation pair",
    confidence="heuristic",
    patch_review_only=True,
    options={
        "window_tokens": 18,  # k-gram length hashed
        "winnow_window": 4,  # keep the minimum hash of every 4 consecutive k-grams
        "max_gap_tokens": 14,  # extra tokens one copy may have (an 'rc =' and its check)
        "min_lines": 6,
        "min_statements": 4,
        "min_shared_identifiers": 0.5,
        "max_positions_per_hash": 8,  # ubiquitous shapes are skipped, keeps it linear
    },
)

_TRIVIAL_STATEMENT_START = frozenset({"return", "break", "continue", "goto", "}", "{"})


@dataclass
class _Stream:
    """The added tokens of one file, cut into runs of adjacent added code.

    The file's token columns plus the indices of the tokens kept: Token objects are
    made only for the copies reported."""

    file_index: int
    file: SourceFile
    columns: TokenColumns
    kept: list[int]  # column indices of the tokens compared, ascending
    norm: list[int]  # their normalised codes
    run_starts: set[int]  # kept positions that start a new run: no window crosses one

    def text(self, position: int) -> str:
        return self.columns.texts[self.kept[position]]

    def tokens(self, start: int, end: int) -> list[Token]:
        kinds, texts, lines, _comments = self.columns
        return [Token(kinds[i], texts[i], lines[i]) for i in self.kept[start:end]]


@dataclass
class _Chain:
    a_file: int
    b_file: int
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    last_a: int
    last_b: int


# Names, numbers and strings hash alike whatever they spell; keywords and operators
# keep their text.
_NORMAL_BY_KIND = {"id": "I", "num": "N", "str": "S"}
_BRACES = frozenset({"{", "}"})


def _data_regions(texts: Sequence[str], braces: Iterable[int]) -> list[tuple[int, int]]:
    """Token index ranges [start, end) of initializers (``= {...}``) and struct/union/enum
    bodies, braces included.  ``braces`` are the indices of the brace tokens.

    Tables of ops and module boilerplate look alike in every driver; they are data, not
    logic worth a helper.  Only the braces are visited: a data region runs from its
    outermost opening brace to the matching close (or the end of an unbalanced text).
    """
    regions: list[tuple[int, int]] = []
    stack: list[bool] = []  # per open brace: is it data?
    region_start = 0  # the outermost open data brace
    for i in braces:
        if texts[i] == "{":
            if stack and stack[-1]:
                stack.append(True)
                continue
            is_data = (i > 0 and texts[i - 1] == "=") or (
                not stack
                and any(w in ("struct", "union", "enum") for w in texts[max(0, i - 3) : i])
            )
            if is_data:
                region_start = i
            stack.append(is_data)
        elif stack:
            if stack[-1] and (len(stack) == 1 or not stack[-2]):
                regions.append((region_start, i + 1))
            stack.pop()
    if any(stack):
        regions.append((region_start, len(texts)))
    return regions


def _build_stream(index: int, sf: SourceFile, vocab: dict[str, int]) -> _Stream:
    """Keep the tokens on added lines outside data regions, normalised, cut into runs.

    Python visits lines runs, braces and data regions, never single tokens: the kept
    tokens are index ranges, mapped to codes at C speed.  Two kept tokens are in one run
    when nothing cut between them: an added token skipped as data, the close of a
    function, or a line that is not added (a blank line of a rebuilt post-image is not
    added either; with ``added`` empty, every line counts and nothing cuts).
    """
    columns = token_columns(sf.text)
    kinds, texts, lines, _comments = columns
    braces = list(compress(range(len(texts)), map(_BRACES.__contains__, texts)))
    data = _data_regions(texts, braces)
    added = sf.added
    if added:
        runs = line_runs(added)
        # tokens of a line are adjacent in the columns: each run of added lines is a range
        on_added = [
            (bisect_left(lines, first), bisect_left(lines, last + 1)) for first, last in runs
        ]
    else:
        on_added = [(0, len(texts))]
    ranges = subtract_ranges(on_added, data)
    kept = list(chain.from_iterable(starmap(range, ranges)))
    starts: set[int] = set()  # run starts, as column indices of kept tokens
    # a line that is not added, between two kept tokens, cuts before the second
    if added:
        starts.update(bisect_left(lines, first) for first, _last in runs[1:])
    # an added token skipped as data cuts before the next kept token
    for start, end in data:
        if not added or not added.isdisjoint(lines[start:end]):
            starts.add(end)
    # the close of a function cuts after it: a twin never spans two functions
    is_kept = bytearray(len(texts))
    for start, end in ranges:
        is_kept[start:end] = b"\x01" * (end - start)
    depth = 0
    for i in braces:
        if not is_kept[i]:
            continue
        if texts[i] == "{":
            depth += 1
        else:
            depth -= 1
            if depth <= 0:
                depth = 0
                starts.add(i + 1)
    # as kept positions: the first kept token at or after each cut
    run_starts = {bisect_left(kept, i) for i in starts} - {0, len(kept)}
    # names, numbers and strings hash alike whatever they spell
    forms = list(
        chain.from_iterable(
            map(_NORMAL_BY_KIND.get, kinds[start:end], texts[start:end]) for start, end in ranges
        )
    )
    # codes in order of first use, file after file; after the first file few files
    # bring a new form, so the codes are looked up first and the vocabulary grown only
    # when that fails (dict.fromkeys: each distinct form once, in order of first use)
    try:
        norm = list(map(vocab.__getitem__, forms))
    except KeyError:
        for form in dict.fromkeys(forms):
            if form not in vocab:
                vocab[form] = len(vocab) + 1
        norm = list(map(vocab.__getitem__, forms))
    return _Stream(index, sf, columns, kept, norm, run_starts)


def _shared_fingerprints(
    streams: list[_Stream], k: int, w: int, cap: int
) -> list[list[tuple[int, int]]]:
    """(file index, position) of each hash fingerprinted 2 to ``cap`` times, in the
    order the hashes first occur; ubiquitous shapes are skipped, keeping it linear.

    Whole columns are mapped at C speed (each fingerprint's first occurrence, the size
    of its group) so Python visits only the members of the groups kept: a dict of lists
    would build two objects per fingerprint, which also wakes the garbage collector.
    """
    hashes: list[int] = []
    files: list[int] = []
    positions: list[int] = []
    for st in streams:
        found, at = fingerprints(st.norm, st.run_starts, k, w)
        hashes += found
        positions += at
        files += repeat(st.file_index, len(at))
    indices = range(len(hashes))
    first_use: dict[int, int] = {}
    firsts: list[int] = list(map(first_use.setdefault, hashes, indices))  # index of first use
    sizes = Counter(firsts)
    # the later uses of the hashes used 2 to ``cap`` times, in order
    wanted = map(
        and_, map(ne, firsts, indices), map(le, map(sizes.__getitem__, firsts), repeat(cap))
    )
    groups: dict[int, list[int]] = {}
    for i in compress(indices, wanted):
        first = firsts[i]
        if first in groups:
            groups[first].append(i)
        else:
            groups[first] = [first, i]
    return [[(files[m], positions[m]) for m in groups[first]] for first in sorted(groups)]


def _chains(streams: list[_Stream], opts: dict) -> list[_Chain]:
    k = int(opts["window_tokens"])
    cap = int(opts["max_positions_per_hash"])
    pairs: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for positions in _shared_fingerprints(streams, k, int(opts["winnow_window"]), cap):
        for j in range(1, len(positions)):
            for i in range(j):
                (fa, pa), (fb, pb) = positions[i], positions[j]
                if fa == fb and abs(pa - pb) < k:
                    continue  # overlapping windows of the same code
                pairs[(fa, fb)].append((pa, pb))
    gap = int(opts["max_gap_tokens"]) + k
    chains: list[_Chain] = []
    for (fa, fb), matches in pairs.items():
        open_chains: list[_Chain] = []
        for pa, pb in sorted(matches):
            # matches come sorted by pa: a chain that ended more than a gap ago is closed
            open_chains = [ch for ch in open_chains if pa - ch.last_a <= gap]
            for ch in open_chains:
                if 0 <= pa - ch.last_a <= gap and 0 < pb - ch.last_b <= gap:
                    ch.last_a, ch.last_b = pa, pb
                    ch.a_end, ch.b_end = max(ch.a_end, pa + k), max(ch.b_end, pb + k)
                    break
            else:
                ch = _Chain(fa, fb, pa, pa + k, pb, pb + k, pa, pb)
                open_chains.append(ch)
                chains.append(ch)
    for ch in chains:
        _extend(ch, streams[ch.a_file], streams[ch.b_file])
    return chains


def _extend(ch: _Chain, sa: _Stream, sb: _Stream) -> None:
    """Grow a chain over equal tokens on both sides, so it starts at a statement."""
    while (
        ch.a_start > 0
        and ch.b_start > 0
        and sa.norm[ch.a_start - 1] == sb.norm[ch.b_start - 1]
        and ch.a_start not in sa.run_starts
        and ch.b_start not in sb.run_starts
        and (sa is not sb or ch.b_start - 1 >= ch.a_end)
    ):
        ch.a_start -= 1
        ch.b_start -= 1
    while (
        ch.a_end < len(sa.norm)
        and ch.b_end < len(sb.norm)
        and sa.norm[ch.a_end] == sb.norm[ch.b_end]
        and ch.a_end not in sa.run_starts
        and ch.b_end not in sb.run_starts
        and (sa is not sb or ch.a_end + 1 <= ch.b_start)
    ):
        ch.a_end += 1
        ch.b_end += 1
    # start at a statement boundary so the report names the loop, not its tail
    limit = min(ch.a_end, ch.b_end - ch.b_start + ch.a_start) - 1
    while ch.a_start < limit and ch.b_start > 0 and sb.text(ch.b_start - 1) not in "{};":
        ch.a_start += 1
        ch.b_start += 1


def _statements(tokens: list[Token]) -> tuple[int, int]:
    """(all statements, statements that are not return/break/goto/braces)."""
    total = meaningful = 0
    starts_statement = True
    first = ""
    parens = 0  # the ';' of a for (...) header do not end statements
    for tok in tokens:
        if starts_statement:
            first = tok.text
            starts_statement = False
        if tok.text == "(":
            parens += 1
        elif tok.text == ")":
            parens = max(0, parens - 1)
        elif parens == 0 and tok.text in (";", "{", "}"):
            if tok.text == ";":
                total += 1
                if first not in _TRIVIAL_STATEMENT_START:
                    meaningful += 1
            starts_statement = True
    return total, meaningful


def _identifiers(tokens: list[Token]) -> set[str]:
    return {mirror_canonical(t.text) for t in tokens if t.kind == "id"}


def _mirror_pair(a: list[Token], b: list[Token]) -> tuple[str, str] | None:
    names_a = {t.text for t in a if t.kind == "id"}
    for name in (t.text for t in b if t.kind == "id"):
        if name in names_a:
            continue
        for other in names_a:
            pair = mirrored_difference(other, name)
            if pair:
                return pair
    return None


def _kind(tokens: list[Token], function_start: bool) -> str:
    first = tokens[0].text if tokens else ""
    if first in ("for", "while", "do") or first.startswith("list_for_each"):
        return "loop"
    return "function" if function_start else "block"


def _patch_labels(ctx: Context) -> dict[int, str]:
    """Which patch added each file of ctx.files (series scope has no ctx.patch).

    One pass over the patches into a lookup table: comparing every file with every
    patch grew with the square of the series length.
    """
    labels: dict[int, str] = {}
    if ctx.series is None:
        return labels
    wanted: dict[str, list[int]] = defaultdict(list)
    for i, sf in enumerate(ctx.files):
        wanted[sf.path].append(i)
    for patch in ctx.series.patches:
        for fd in patch.files:
            candidates = [i for i in wanted.get(fd.path, ()) if i not in labels]
            if not candidates:
                continue
            added = frozenset(fd.added_lines())
            for i in candidates:
                if ctx.files[i].added == added:
                    labels[i] = patch.label
    return labels


def check(ctx: Context) -> Iterable[Finding]:
    opts = {**RULE.options, **ctx.options}
    files = list(ctx.files) or ([ctx.file] if ctx.file else [])
    vocab: dict[str, int] = {}
    streams = [_build_stream(i, sf, vocab) for i, sf in enumerate(files)]
    labels = _patch_labels(ctx)
    reported: set[tuple[int, int]] = set()
    for ch in sorted(_chains(streams, opts), key=lambda c: (c.b_file, c.b_start)):
        sa, sb = streams[ch.a_file], streams[ch.b_file]
        a_toks = sa.tokens(ch.a_start, ch.a_end)
        b_toks = sb.tokens(ch.b_start, ch.b_end)
        if ch.a_file == ch.b_file and ch.b_start < ch.a_end:
            continue  # the two copies overlap: a repetitive run, not a twin
        if min(a_toks[-1].line - a_toks[0].line, b_toks[-1].line - b_toks[0].line) + 1 < int(
            opts["min_lines"]
        ):
            continue
        total_a, meaningful_a = _statements(a_toks)
        total_b, meaningful_b = _statements(b_toks)
        if (
            min(total_a, total_b) < int(opts["min_statements"])
            or min(meaningful_a, meaningful_b) < 3
        ):
            continue
        ids_a, ids_b = _identifiers(a_toks), _identifiers(b_toks)
        shared = len(ids_a & ids_b) / max(1, len(ids_a | ids_b))
        if shared < float(opts["min_shared_identifiers"]):
            continue
        b_line, a_line = b_toks[0].line, a_toks[0].line
        key = (ch.b_file, b_line)
        if key in reported:
            continue
        reported.add(key)
        a_fn = function_of(sa.file.text, a_line)
        b_fn = function_of(sb.file.text, b_line)
        if (a_fn is None and sa.file.complete) or (b_fn is None and sb.file.complete):
            continue  # top-level code of a whole file: macro tables, not logic
        pos = f"{sa.file.path}:{a_line}"
        kind = _kind(b_toks, b_fn is not None and b_fn.start_line == b_line)
        if kind == "function" and a_fn:
            twin = f"{a_fn.name}() ({pos})"
        else:
            twin = f"the one in {a_fn.name}() ({pos})" if a_fn else f"the one at {pos}"
        pair = _mirror_pair(a_toks, b_toks)
        if pair:
            message = (
                f"this {kind} is the reverse of {twin}; factor the shared walk into a "
                f"helper that takes the operation ({pair[0]} vs {pair[1]})"
            )
        else:
            message = f"this {kind} repeats {twin}; factor the shared code into a helper"
        finding = ctx.finding(
            message,
            b_line,
            path=sb.file.path,
            function=b_fn.name if b_fn else None,
            related=[
                Location(
                    sa.file.path, a_line, function=a_fn.name if a_fn else None, note="first copy"
                ),
                Location(
                    sb.file.path, b_line, function=b_fn.name if b_fn else None, note="second copy"
                ),
            ],
            suggestion="move the common walk into one helper and pass the operation "
            "(or a flag) from both callers",
        )
        if finding.patch is None and ch.b_file in labels:
            finding.patch = labels[ch.b_file]
        yield finding
