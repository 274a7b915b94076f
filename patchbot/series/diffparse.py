"""A tolerant, linear unified-diff parser for patches as they arrive by mail.

Hand-written rather than unidiff: it is faster on large series (see
bench/bench_series_parse.py) and it can repair what mail does to diffs instead of
rejecting them.  Repairs are reported as one-line warnings and mark the diff
``repaired`` so the caller can set Patch.applicable = False:

* hunk headers whose line counts disagree with the body are recounted;
* context lines that lost their leading space (mailers strip it from blank lines and
  sometimes from every line) are taken as context;
* paths that escape the tree (``../``, absolute) drop the file.

Header numbers are never used to size anything: loops run over the lines actually
present, so ``@@ -1,99999999 +1,99999999 @@`` costs nothing.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from patchbot.series.model import DiffLine, FileDiff, Hunk

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")

# Beyond this a line number is not a real source file: drop the hunk rather than let
# sparse image reconstruction allocate that many lines.
MAX_LINE_NUMBER = 1_000_000

_BODY_ONLY = frozenset(" +")
_new_object = object.__new__


def _diff_line(kind: str, text: str, old_no: int | None, new_no: int | None) -> DiffLine:
    """DiffLine(kind, text, old_no, new_no), built without the frozen dataclass's
    __init__ (four guarded setattr calls): the diff parser makes one per line, and that
    constructor was a tenth of loading a large series.  The fields go straight into the
    instance's own dict (frozen forbids setattr, not that), which shares its keys with
    every other DiffLine: cheaper than building and assigning a fresh dict.  The result
    is an ordinary, equal DiffLine.  _parse_hunk() repeats these lines inline for the
    context and added lines of a hunk, its hot path."""
    line = _new_object(DiffLine)
    fields = line.__dict__
    fields["kind"] = kind
    fields["text"] = text
    fields["old_no"] = old_no
    fields["new_no"] = new_no
    return line


# "index 1a2b3c4..5d6e7f8 100644": the pre- and post-image blob ids (7 to 64 hex digits)
_INDEX_RE = re.compile(r"index ([0-9a-f]{7,64})\.\.[0-9a-f]{7,64}(?: \d+)?$")
_EXTENDED_HEADERS = (
    "index ",
    "old mode ",
    "new mode ",
    "similarity index ",
    "dissimilarity index ",
    "copy from ",
    "copy to ",
)


@dataclass
class ParsedDiff:
    files: list[FileDiff] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: bool = False  # the diff was changed to be parsed: it will not apply as is


# git quotes a name holding a control character, '"', '\\' or (core.quotePath, the
# default) any non-ASCII byte: "a/dir/\303\251.c" is a/dir/é.c
_GIT_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_OCTAL_RE = re.compile(r"[0-3][0-7]{2}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def git_unquote(inner: str) -> str:
    """The name inside git's double quotes (quote_c_style() undone): C escapes and
    octal bytes, decoded as UTF-8.  Raises ValueError for an escape git never writes."""
    if "\\" not in inner:
        return inner
    out = bytearray()
    i = 0
    while i < len(inner):
        at = inner.find("\\", i)
        if at < 0:
            out += inner[i:].encode("utf-8", "surrogateescape")
            break
        out += inner[i:at].encode("utf-8", "surrogateescape")
        code = inner[at + 1 : at + 2]
        if code in _GIT_ESCAPES:
            out.append(_GIT_ESCAPES[code])
            i = at + 2
        elif _OCTAL_RE.match(inner, at + 1):
            out.append(int(inner[at + 1 : at + 4], 8))
            i = at + 4
        else:
            raise ValueError(f'"{inner}"')
    return out.decode("utf-8", "replace")


def safe_path(raw: str | None) -> str | None:
    """Strip the a/ b/ prefix and normalise; None for /dev/null.

    Raises ValueError for a path that would escape the tree.
    """
    if raw is None:
        return None
    path = raw.split("\t", 1)[0].strip()
    if len(path) >= 2 and path[0] == '"' and path[-1] == '"':
        path = git_unquote(path[1:-1])
    if path == "/dev/null":
        return None
    if path.startswith(("a/", "b/")):
        path = path[2:]
    if not path or path.startswith("/") or "\\" in path or _CONTROL_RE.search(path):
        raise ValueError(path)
    parts = path.split("/")
    if ".." in parts:
        raise ValueError(path)
    return posixpath.normpath(path)


def _git_header_paths(line: str) -> tuple[str | None, str | None]:
    """``diff --git a/X b/Y``: X and Y may hold spaces, so prefer the split where
    both names are equal (the common case), else the first `` b/``."""
    rest = line[len("diff --git ") :]
    if rest.startswith('"'):  # quoted names (unusual characters): "a/x" "b/y"
        names = re.findall(r'"((?:[^"\\]|\\.)*)"', rest)
        return (names[0], names[1]) if len(names) == 2 else (None, None)
    splits = [k for k in range(len(rest)) if rest.startswith(" b/", k)]
    for k in splits:
        if rest[:k].removeprefix("a/") == rest[k + 3 :]:
            return rest[:k], rest[k + 1 :]
    if splits:
        return rest[: splits[0]], rest[splits[0] + 1 :]
    old, _, new = rest.partition(" ")
    return (old or None), (new or None)


def is_diff_start(line: str) -> bool:
    return line.startswith(("diff --git ", "Index: ")) or (
        line.startswith("--- ") and not line.startswith("--- \n")
    )


class _FileBuilder:
    """Collects the header lines of one file until its first hunk."""

    def __init__(self) -> None:
        self.git_old: str | None = None
        self.git_new: str | None = None
        self.minus: str | None = None
        self.plus: str | None = None
        self.saw_minus = False
        self.saw_plus = False
        self.new_file = False
        self.deleted = False
        self.rename_from: str | None = None
        self.rename_to: str | None = None
        self.binary = False
        self.old_blob: str | None = None

    def paths(self) -> tuple[str | None, str | None]:
        old = self.rename_from or (self.minus if self.saw_minus else self.git_old)
        new = self.rename_to or (self.plus if self.saw_plus else self.git_new)
        if self.new_file:
            old = None
        if self.deleted:
            new = None
        return old, new


def parse_diff(text: str) -> ParsedDiff:
    """Parse every file diff in ``text`` (anything before the first header is ignored)."""
    result = ParsedDiff()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    n = len(lines)
    i = 0
    current: _FileBuilder | None = None
    current_diff: FileDiff | None = None
    dropped: FileDiff | None = None  # a file we refused: its hunks are skipped

    def finish_header() -> FileDiff | None:
        nonlocal current
        if current is None:
            return None
        builder, current = current, None
        try:
            old_raw, new_raw = builder.paths()
            old, new = safe_path(old_raw), safe_path(new_raw)
        except ValueError as exc:
            result.warnings.append(f"dropped a file whose path escapes the tree: {exc}")
            return _DROPPED
        if old is None and new is None:
            result.warnings.append("dropped a file diff with no usable path")
            return _DROPPED
        fd = FileDiff(old_path=old, new_path=new, is_binary=builder.binary)
        if old is not None:
            fd.old_blob = builder.old_blob
        result.files.append(fd)
        return fd

    while i < n:
        line = lines[i]
        if line.startswith("diff --git "):
            finish_header()
            current = _FileBuilder()
            current_diff = dropped = None
            current.git_old, current.git_new = _git_header_paths(line)
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < n and lines[i + 1].startswith("+++ "):
            if current is None or current.saw_minus:
                finish_header()
                current = _FileBuilder()
                current_diff = dropped = None
            current.minus, current.saw_minus = line[4:], True
            current.plus, current.saw_plus = lines[i + 1][4:], True
            i += 2
            continue
        if current is not None and current_diff is None:
            if _header_line(current, line):
                i += 1
                continue
            if line.startswith("GIT binary patch"):
                current.binary = True
                i = _skip_binary(lines, i + 1)
                continue
        m = HUNK_RE.match(line)
        if m:
            if current is not None:
                target = finish_header()
                if target is _DROPPED:
                    dropped, current_diff = target, None
                else:
                    current_diff = target
            hunk, i = _parse_hunk(m, lines, i + 1, result)
            if current_diff is None or dropped is not None:
                if dropped is None:
                    result.warnings.append(f"ignored a hunk with no file header: {line[:60]}")
                continue
            if hunk is not None:
                current_diff.hunks.append(hunk)
            continue
        if line.startswith("Index: "):
            finish_header()
            current_diff = dropped = None
        i += 1
    finish_header()
    for fd in result.files:
        if _tabs_turned_into_spaces(fd):
            result.warnings.append(
                f"{fd.path}: the context has no tabs but space-indented lines: "
                "were tabs turned into spaces by the mailer?"
            )
            result.repaired = True
    return result


def _tabs_turned_into_spaces(fd: FileDiff) -> bool:
    """Kernel C is tab-indented, and context lines come from the tree: several
    context lines indented with 8 spaces and not one tab means the mail was mangled."""
    if not fd.path.endswith((".c", ".h")):
        return False
    spaced = 0
    for hunk in fd.hunks:
        for ln in hunk.lines:
            if "\t" in ln.text:
                return False
            if ln.kind == " " and ln.text.startswith("        "):
                spaced += 1
    return spaced >= 3


_DROPPED = FileDiff(old_path=None, new_path=None)


def _header_line(builder: _FileBuilder, line: str) -> bool:
    """Consume one extended git header line; False when it is not one."""
    if line.startswith("new file mode"):
        builder.new_file = True
    elif line.startswith("deleted file mode"):
        builder.deleted = True
    elif line.startswith("rename from "):
        builder.rename_from = line[len("rename from ") :]
    elif line.startswith("rename to "):
        builder.rename_to = line[len("rename to ") :]
    elif line.startswith("Binary files ") and line.endswith(" differ"):
        builder.binary = True
    elif line.startswith("index "):
        m = _INDEX_RE.match(line)
        if m and m.group(1).strip("0"):  # all zeros: the file is new
            builder.old_blob = m.group(1)
    elif not line.startswith(_EXTENDED_HEADERS):
        return False
    return True


def _skip_binary(lines: list[str], i: int) -> int:
    """Skip the base85 payload of a GIT binary patch (literal/delta blocks)."""
    n = len(lines)
    while i < n:
        line = lines[i]
        if line.startswith(("diff --git ", "-- ")) or line == "--":
            return i
        i += 1
    return i


def _looks_like_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith(("diff --git ", "@@ ", "Index: ")):
        return True
    return line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def _parse_hunk(
    m: re.Match[str], lines: list[str], i: int, result: ParsedDiff
) -> tuple[Hunk | None, int]:
    old_start, new_start = int(m.group(1)), int(m.group(3))
    old_len = int(m.group(2)) if m.group(2) is not None else 1
    new_len = int(m.group(4)) if m.group(4) is not None else 1
    header = m.group(0)
    absurd = old_start > MAX_LINE_NUMBER or new_start > MAX_LINE_NUMBER
    hunk = Hunk(old_start, old_len, new_start, new_len, m.group(5))
    old_left, new_left = old_len, new_len
    old_no, new_no = max(old_start, 1), max(new_start, 1)
    # A pure insertion at the top of a file is written -0,0: the first post line is 1.
    if old_len == 0:
        old_no = old_start + 1
    if new_len == 0:
        new_no = new_start + 1
    mangled = False
    overrun = False
    n = len(lines)
    out = hunk.lines
    adds = removes = 0  # counted as we go: a second pass over the lines cost as much
    while i < n:
        line = lines[i]
        first = line[:1]
        if (first == "+" or first == " ") and (old_left > 0 or new_left > 0):
            # The hot path: an added or context line inside the counts (the general
            # branches below do the same for it, a call and several tests later).
            item = _new_object(DiffLine)
            fields = item.__dict__
            fields["kind"] = first
            fields["text"] = line[1:]
            if first == "+":
                fields["old_no"] = None
                fields["new_no"] = new_no
                adds += 1
            else:
                fields["old_no"] = old_no
                fields["new_no"] = new_no
                old_no += 1
                old_left -= 1
            new_no += 1
            new_left -= 1
            out.append(item)
            i += 1
            continue
        counts_done = old_left <= 0 and new_left <= 0
        if first == "\\":  # "\ No newline at end of file"
            i += 1
            continue
        # Only lines starting with '-', 'd', '@' or 'I' can be headers: skip the check
        # for the common ' ' and '+' lines (this loop is the parser's hot path).
        if first not in _BODY_ONLY and _looks_like_header(lines, i):
            break
        if counts_done:
            # The header says the hunk is over.  Carry on only if what follows is
            # clearly more hunk body (a header that undercounts), never into the
            # signature or the next mail part.
            if not line or line == "-- " or line[0] not in "+- ":
                break
            if not overrun and not _more_body_follows(lines, i):
                break
            overrun = True  # checked once up to the next header: no rescans
        tag = first
        if tag == "+":
            out.append(_diff_line("+", line[1:], None, new_no))
            new_no += 1
            new_left -= 1
            adds += 1
        elif tag == "-":
            out.append(_diff_line("-", line[1:], old_no, None))
            old_no += 1
            old_left -= 1
            removes += 1
        elif tag == " ":
            out.append(_diff_line(" ", line[1:], old_no, new_no))
            old_no += 1
            new_no += 1
            old_left -= 1
            new_left -= 1
        else:
            if counts_done or line.startswith(("From ", "Subject: ")):
                break
            # A context line that lost its leading space.
            mangled = True
            out.append(_diff_line(" ", line, old_no, new_no))
            old_no += 1
            new_no += 1
            old_left -= 1
            new_left -= 1
        i += 1
    counted_old = len(out) - adds
    counted_new = len(out) - removes
    if mangled:
        result.warnings.append(
            f"whitespace-mangled hunk {header[:60]}: context lines lost their leading space"
        )
        result.repaired = True
    if (counted_old, counted_new) != (old_len, new_len):
        if old_left > 0 or new_left > 0:
            # Ran out of body before the header's counts: a truncated message or a
            # header that overcounts.  Recount and say so.
            result.warnings.append(
                f"hunk {header[:60]} is shorter than its header says "
                f"(-{counted_old} +{counted_new}); recounted"
            )
        else:
            result.warnings.append(
                f"hunk {header[:60]} has wrong line counts "
                f"(body has -{counted_old} +{counted_new}); recounted"
            )
        hunk.old_len, hunk.new_len = counted_old, counted_new
        result.repaired = True
    if absurd:
        result.warnings.append(f"dropped hunk {header[:60]}: line numbers beyond any real file")
        result.repaired = True
        return None, i
    return hunk, i


def _more_body_follows(lines: list[str], i: int) -> bool:
    """After the counts ran out, do diff-looking lines continue up to a header or the end?

    Called at most once per hunk (the caller remembers a yes), and the scan stops at
    the first line that is not hunk body, so parsing stays linear."""
    j = i
    n = len(lines)
    while j < n:
        line = lines[j]
        if _looks_like_header(lines, j):
            return True
        if line == "-- " or not line or line[0] not in "+- \\":
            return False
        j += 1
    return True
