"""Same-length textual normalisation of kernel C before tree-sitter sees it.

tree-sitter-c knows C, not the kernel's macro dialect.  Rather than teach the grammar,
we rewrite the few idioms that derail it into plain C *of exactly the same byte length*, so
every byte offset, line and (byte) column of the parse tree still points at the original
text:

* attribute-like qualifiers (``__init``, ``__must_check``, ``__iomem``, ``__free(kfree)``,
  ``__acquires(x)``...) become spaces; ``__free(fn)``/``__cleanup(fn)`` offsets are kept
  so the analysis can model the scope-exit free;
* ``list_for_each_entry(pos, head, member) {`` and every other ``*for_each*`` macro used
  as a statement becomes ``while              (pos, head, member) {`` — a loop whose
  condition is a comma expression, which is what the macro means for control flow;
* ``scoped_guard(mutex, &m) {`` becomes ``if          (mutex, &m) {``; the offset is
  recorded so the CFG builder treats that ``if`` as always taken;
* ``EXPORT_SYMBOL*(...);`` lines become spaces.

``guard(mutex)(&m);``, ``IS_ENABLED(CONFIG_X)``, ``unlikely()`` and ``do { } while (0)``
already parse as ordinary expressions and are left alone.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

# Qualifiers that carry no control-flow or data-flow meaning for our analysis.
_BARE_QUALIFIERS = [
    "__init",
    "__exit",
    "__initdata",
    "__initconst",
    "__meminit",
    "__meminitdata",
    "__ref",
    "__refdata",
    "__must_check",
    "__always_inline",
    "__maybe_unused",
    "__cold",
    "__hot",
    "__iomem",
    "__user",
    "__rcu",
    "__percpu",
    "__force",
    "__read_mostly",
    "__ro_after_init",
    "noinline",
    "__noreturn",
    "__weak",
    "__used",
    "__visible",
    "notrace",
    "__sched",
    "asmlinkage",
    "__nocfi",
    "__latent_entropy",
    "__always_unused",
    "__init_or_module",
    "__exitdata",
    "__kprobes",
    "__noinstr",
    "noinstr",
    "__bitwise",
    "__private",
]
_CALL_QUALIFIERS = [
    "__free",
    "__cleanup",
    "__acquires",
    "__releases",
    "__must_hold",
    "__aligned",
    "__section",
    "__printf",
    "__scanf",
    "__counted_by",
    "__guarded_by",
]

_BARE_SET = frozenset(_BARE_QUALIFIERS)
# Any word that could be one of them; the set decides.  Much faster than an alternation
# of 38 words tried at every word boundary of the file.  Most start with "__": a regex
# starting with that literal lets the engine jump from one "__" to the next, where one
# starting with a character class (or a lookbehind) is tried at every "_", "n" and "a"
# of the file.  "No word character before" is then checked on the few hits, and the
# other qualifiers are searched for only in a text that spells them at all.
_DUNDER_WORD_RE = re.compile(r"__\w+")
_WORD_CHAR_RE = re.compile(r"\w")
_PLAIN_QUALIFIER_RE = re.compile(r"(?<!\w)(?:no(?:inline|trace|instr)|asmlinkage)\b")
_PLAIN_NEEDLES = ("noin", "notrace", "asmlinkage")
_CALLQ_RE = re.compile(  # \b__free( and friends; every qualifier starts with "__"
    r"_(?<!\w_)_(?:" + "|".join(re.escape(q[2:]) for q in _CALL_QUALIFIERS) + r")\s*\("
)
_LOOP_RE = re.compile(r"^[ \t]+(\w*for_each\w*)\s*\(", re.MULTILINE)
_SCOPED_RE = re.compile(
    r"^[ \t]+(?:else[ \t]+)?(scoped_guard|scoped_cond_guard)\s*\(", re.MULTILINE
)
# A type written as a macro argument: container_of(p, struct foo, m), min_t(unsigned int, ..)
# The match starts at the '(' or ',' before it (consumed, not a lookbehind, for speed:
# a match never consumes the delimiter the next one starts at).
_TYPE_ARG_RE = re.compile(
    r"[(,]([ \t]*)((?:struct|union|enum)[ \t]+\w+|(?:(?:unsigned|signed|long|short)[ \t]+)*"
    r"(?:int|long|char|short|unsigned|signed|bool|void))(?=[ \t]*[,)])"
)
_TYPE_ARG_KEEP_BEFORE = ("sizeof", "typeof", "__typeof__", "_Alignof", "alignof")
_LAST_WORD_RE = re.compile(r"(\w+)$")  # "$" also matches before a final newline
_EXPORT_RE = re.compile(r"^(EXPORT_SYMBOL\w*|MODULE_\w+)\s*\(", re.MULTILINE)
_EXPORT_NEEDLES = ("EXPORT_SYMBOL", "MODULE_")


@dataclass(frozen=True)
class Normalized:
    text: str
    loop_macros: dict[int, str]  # byte offset of the rewritten 'while' -> macro name
    scoped_guards: frozenset[int]  # byte offsets of 'if' keywords that are scoped_guard()
    cleanups: dict[int, str] = field(default_factory=dict)  # __free(fn) offset -> fn
    # character spans (inclusive) whose rewriting reads text beyond one line: a
    # qualifier's parenthesised argument, what follows a loop header or EXPORT_SYMBOL(),
    # the word before a '(' in column 0.  A text derived by editing a line that none of
    # them touches is normalised from this result (see normalize_line_edits)
    reach: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)


def _close_paren(text: str, open_at: int) -> int:
    """Index of the ')' matching text[open_at] == '(' (or len(text) if unbalanced)."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        elif ch == "\n" and depth == 0:
            break
    return len(text)


def _matches(
    pattern: re.Pattern[str], text: str, needles: tuple[str, ...]
) -> Iterator[re.Match[str]]:
    """pattern.finditer(text) for a line-anchored pattern (``^`` in MULTILINE mode) that
    cannot match a line without one of ``needles``: the regex is tried only at the
    starts of lines holding a needle, not at every character of the file.  A match
    never starts before the previous one ends, as with finditer()."""
    starts: set[int] = set()
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            line_start = text.rfind("\n", 0, at) + 1
            starts.add(line_start)
            # the next line: one line holds at most one match start
            at = text.find(needle, max(at + 1, text.find("\n", at) + 1 or len(text)))
    done = 0
    for start in sorted(starts):
        if start < done:
            continue
        m = pattern.match(text, start)
        if m is not None:
            done = m.end()
            yield m


def _bare_qualifiers(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the attribute-like qualifiers written as whole words."""
    word_char = _WORD_CHAR_RE.match
    for m in _DUNDER_WORD_RE.finditer(text):
        # inside a longer word (foo__bar) no qualifier starts, nor before its end
        start = m.start()
        if (start == 0 or not word_char(text, start - 1)) and m.group() in _BARE_SET:
            yield start, m.end()
    if any(needle in text for needle in _PLAIN_NEEDLES):
        for m in _PLAIN_QUALIFIER_RE.finditer(text):
            yield m.start(), m.end()


# every byte but the newline becomes a space
_BLANK_BYTES = bytes(10 if b == 10 else 32 for b in range(256))


class _Rewriter:
    """The text being rewritten, kept the same length in UTF-8 bytes.

    An ASCII text (almost every kernel file) is edited as a bytearray: a character is
    a byte, and blanking a span is one C-level translate.  Any other text is edited as
    a list of characters, a blanked one becoming one space per UTF-8 byte, because
    tree-sitter positions are byte offsets and byte columns."""

    def __init__(self, text: str, *, bytewise: bool = True) -> None:
        self.ascii = bytewise and text.isascii()  # bytewise=False: tests compare the two
        self._bytes = bytearray(text.encode("ascii")) if self.ascii else bytearray()
        self._chars = [] if self.ascii else list(text)

    def blank(self, start: int, end: int) -> None:
        """Spaces over [start, end), newlines kept."""
        if self.ascii:
            self._bytes[start:end] = self._bytes[start:end].translate(_BLANK_BYTES)
            return
        chars = self._chars
        for i in range(start, min(end, len(chars))):
            if chars[i] != "\n":
                chars[i] = " " * len(chars[i].encode("utf-8", "surrogateescape"))

    def put(self, start: int, word: str) -> None:
        """``word`` (plain ASCII) over as many characters at ``start``."""
        if self.ascii:
            self._bytes[start : start + len(word)] = word.encode("ascii")
        else:
            self._chars[start : start + len(word)] = list(word)

    def text(self) -> str:
        return self._bytes.decode("ascii") if self.ascii else "".join(self._chars)


def _nonspace_at(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _next_nonspace(text: str, pos: int) -> str:
    pos = _nonspace_at(text, pos)
    return text[pos] if pos < len(text) else ""


# derived text -> (the text it was made from by rewriting whole lines, the rewritten
# rows if known): see note_line_edits
_EDITED_FROM: dict[str, tuple[str, tuple[int, ...] | None]] = {}


def note_line_edits(derived: str, base: str, rows: Sequence[int] | None = None) -> None:
    """Tell normalize() that ``derived`` is ``base`` with some lines rewritten (same
    number of lines), so it can start from ``base``'s result.  ``rows`` (0-based) are
    the rewritten lines, when the caller knows them: a hint, checked, never trusted."""
    if derived != base:
        _EDITED_FROM[derived] = (base, None if rows is None else tuple(sorted(set(rows))))
        # an entry whose normalisation is already cached is never taken back out
        while len(_EDITED_FROM) > _EDITED_KEPT:
            del _EDITED_FROM[next(iter(_EDITED_FROM))]


_EDITED_KEPT = 64  # as many as fragments.synthesize_fragments() caches


def forget_line_edits() -> None:
    """Drop every note_line_edits() hint (runcache.start_run)."""
    _EDITED_FROM.clear()


def changed_rows(
    old_lines: list[str], new_lines: list[str], hint: tuple[int, ...] | None = None
) -> list[int]:
    """The rows where two equally long line lists differ.  With ``hint`` (sorted rows
    that may differ) the stretches between the hinted rows are compared as list slices
    at C speed instead of line by line in Python; if one of them differs after all, the
    full comparison runs."""
    if hint is not None and (not hint or 0 <= hint[0] <= hint[-1] < len(old_lines)):
        start = 0
        for row in hint:
            if old_lines[start:row] != new_lines[start:row]:
                break
            start = row + 1
        else:
            if old_lines[start:] == new_lines[start:]:
                return [row for row in hint if old_lines[row] != new_lines[row]]
    pairs = enumerate(zip(old_lines, new_lines, strict=True))
    return [row for row, (old, new) in pairs if old != new]


def line_offset(lines: list[str], row: int) -> int:
    """Character offset of ``lines[row]`` in ``"\n".join(lines)``."""
    return sum(map(len, lines[:row])) + row


def line_offsets(lines: list[str]) -> list[int]:
    """line_offset() of every row at once: callers with one edit per fragment header
    (50,000 in a 1 MB hunk-only file) were quadratic asking row by row."""
    return [0, *accumulate(len(line) + 1 for line in lines[:-1])]


@lru_cache(maxsize=256)
def normalize(text: str) -> Normalized:
    """Rewrite kernel idioms into same-length plain C (see module docstring)."""
    edited = _EDITED_FROM.pop(text, None)
    if edited is not None:
        derived = normalize_line_edits(text, *edited)
        if derived is not None:
            return derived
    return _normalize_fresh(text)


def _normalize_fresh(text: str, *, bytewise: bool = True) -> Normalized:
    out = _Rewriter(text, bytewise=bytewise)
    ascii_only = out.ascii

    def byte_offset(index: int) -> int:
        return index if ascii_only else len(text[:index].encode("utf-8", "surrogateescape"))

    for start, end in _bare_qualifiers(text):
        out.blank(start, end)
    cleanups: dict[int, str] = {}
    reach: list[tuple[int, int]] = []
    for m in _CALLQ_RE.finditer(text):
        close = _close_paren(text, m.end() - 1)
        reach.append((m.start(), close))
        if m.group(0).startswith(("__free", "__cleanup")):
            cleanups[byte_offset(m.start())] = text[m.end() : close].strip()
        out.blank(m.start(), close + 1)
    for m in _matches(_EXPORT_RE, text, _EXPORT_NEEDLES):
        end = _close_paren(text, m.end() - 1) + 1
        reach.append((m.start(), _nonspace_at(text, end)))
        if _next_nonspace(text, end) == ";":
            end = text.index(";", end) + 1
        out.blank(m.start(), end)
    for m in _TYPE_ARG_RE.finditer(text):
        opener = m.start()
        if text[opener] == "(":
            if opener > 0 and text[opener - 1] == "\n":
                reach.append((opener - 1, opener))  # the lookback below reads the line above
            prev = text[opener - 1 : opener]
            if prev != "\n" and not _WORD_CHAR_RE.match(prev):
                continue  # no word before the "(": a cast (the search below finds none)
            before = _LAST_WORD_RE.search(text[max(0, opener - 40) : opener])
            if before is None or before.group(1) in _TYPE_ARG_KEEP_BEFORE:
                continue  # a cast or sizeof(type), which tree-sitter parses itself
            if _next_nonspace(text, m.end()) == ")" and text[m.end() :].lstrip()[1:2].isalnum():
                continue
        start = m.start(2)
        type_text = m.group(2)
        if type_text.split()[0] in ("struct", "union", "enum"):
            out.blank(start, start + len(type_text.split()[0]))
        else:  # a primitive type: make it one identifier of the same length
            out.put(start, "_" + re.sub(r"[ \t]", "_", type_text)[1:])
    loops: dict[int, str] = {}
    for m in _matches(_LOOP_RE, text, ("for_each",)):
        close = _close_paren(text, m.end() - 1)
        reach.append((m.start(), _nonspace_at(text, close + 1)))
        if close >= len(text) or _next_nonspace(text, close + 1) in (";", ""):
            continue  # a call statement, not a loop header
        start, name = m.start(1), m.group(1)
        if len(name) < len("while"):
            continue
        out.put(start, "while".ljust(len(name)))
        loops[byte_offset(start)] = name
    scoped: set[int] = set()
    for m in _matches(_SCOPED_RE, text, ("scoped_",)):
        reach.append((m.start(), m.end()))
        start, name = m.start(1), m.group(1)
        out.put(start, "if".ljust(len(name)))
        scoped.add(byte_offset(start))
    return Normalized(out.text(), loops, frozenset(scoped), cleanups, tuple(reach))


# Words that start a rewrite reading past the end of its line (a qualifier's argument,
# a loop or EXPORT_SYMBOL() header): an edited line holding one is normalised afresh.
_MULTILINE_TRIGGERS = (*_CALL_QUALIFIERS, "EXPORT_SYMBOL", "MODULE_", "for_each", "scoped_")


def normalize_line_edits(
    derived: str, base: str, rows: tuple[int, ...] | None = None
) -> Normalized | None:
    """normalize(derived) computed from normalize(base), for a ``derived`` text that is
    ``base`` with some lines rewritten (same number of lines): fragments.py's synthetic
    headers.  Every rewrite but those listed in ``Normalized.reach`` stays on its line,
    so the unchanged lines keep their normalised text and the edited ones are
    normalised alone.  None (normalise afresh) when an edited line could take part in a
    rewrite that spans lines.  ``rows``: the rewritten rows if known (see
    changed_rows)."""
    old_lines = base.split("\n")
    new_lines = derived.split("\n")
    if len(old_lines) != len(new_lines):
        return None
    before = normalize(base)
    if len(before.text) != len(base):
        return None  # a blanked non-ASCII character: the normalised text's offsets moved
    edits: list[tuple[int, int, str]] = []  # (character span of the old line, new line)
    offsets: list[int] | None = None
    for row in changed_rows(old_lines, new_lines, rows):
        old, new = old_lines[row], new_lines[row]
        if new.lstrip().startswith("(") or any(w in new for w in _MULTILINE_TRIGGERS):
            return None
        if offsets is None:
            offsets = line_offsets(old_lines)
        offset = offsets[row]
        edits.append((offset, offset + len(old), new))  # the span ends at its newline
    if not edits:
        return before
    # (edits are sorted and disjoint: one bisection per reach span, not a double loop)
    edit_starts = [start for start, _end, _new in edits]
    for start, end in before.reach:
        k = bisect_right(edit_starts, end)  # edits starting at or before the span's end
        if k and edits[k - 1][1] >= start:
            return None
    pieces: list[str] = []
    shift_at: list[int] = []  # byte offset of each edited line in base
    grown: list[int] = [0]  # total growth of the edits before each one
    done = 0
    byte = 0  # byte offset of base[done]
    for old_start, old_end, new in edits:
        pieces.append(before.text[done:old_start])
        line = _normalize_fresh(new).text  # (one line: not worth a slot of normalize's cache)
        if len(line) != len(new):
            return None
        pieces.append(line)
        old_line = base[old_start:old_end]
        byte += len(base[done:old_start].encode("utf-8", "surrogateescape"))
        old_bytes = len(old_line.encode("utf-8", "surrogateescape"))
        shift_at.append(byte)
        grown.append(grown[-1] + len(new.encode("utf-8", "surrogateescape")) - old_bytes)
        byte += old_bytes
        done = old_end
    pieces.append(before.text[done:])

    def moved(at: int) -> int:
        return at + grown[bisect_left(shift_at, at)]

    return Normalized(
        "".join(pieces),
        {moved(k): v for k, v in before.loop_macros.items()},
        frozenset(moved(k) for k in before.scoped_guards),
        {moved(k): v for k, v in before.cleanups.items()},
        ((0, len(derived)),),  # spans not recomputed: nothing is derived from this one
    )
