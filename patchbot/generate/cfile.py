"""Find top-level definitions of a C file and edit it at anchors inside them.

Generated code is placed by what the file contains, never by line numbers: an edit
names a function (or struct) found by scanning the file's top level, and a text anchor
that must occur exactly once inside it.  If the file has drifted so that either is
missing or ambiguous, DriftError says which, and nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchbot.errors import InputError


class DriftError(InputError):
    """The target file no longer has the definition or anchor an edit needs."""


@dataclass(frozen=True)
class Definition:
    name: str  # function name, or "struct NAME"
    start: int  # offset of the first character of the declaration (after any comment)
    body_start: int  # offset of the opening brace
    end: int  # offset just past the closing brace (and a trailing ';' for structs)


_IDENT_BEFORE_PAREN = re.compile(r"([A-Za-z_]\w*)\s*\($")
_STRUCT_HEAD = re.compile(r"\b(struct|union|enum)\s+([A-Za-z_]\w*)\s*$")


def _skip(text: str, i: int) -> int:
    """If a comment, string, char literal or preprocessor line starts at i, its end."""
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    ch = text[i]
    if ch in "\"'":
        j = i + 1
        while j < len(text) and text[j] != ch:
            j += 2 if text[j] == "\\" else 1
        return j + 1
    if ch == "#" and (i == 0 or text[i - 1] == "\n"):
        j = i
        while True:  # a directive continues over backslash-newlines
            end = text.find("\n", j)
            if end < 0:
                return len(text)
            if text[end - 1] != "\\":
                return end
            j = end + 1
    return i


def definitions(text: str) -> list[Definition]:
    """Every function and struct/union/enum body at the top level of a C file."""
    defs: list[Definition] = []
    depth = 0
    decl_start = 0  # where the current top-level declaration began
    open_at = 0
    i = 0
    n = len(text)
    while i < n:
        j = _skip(text, i)
        if j != i:
            if depth == 0 and (text[i] == "#" or text.startswith("/*", i)):
                decl_start = j
            i = j
            continue
        ch = text[i]
        if ch == "{":
            if depth == 0:
                open_at = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                end = i + 1
                head = text[decl_start:open_at].strip()
                start = decl_start + (
                    len(text[decl_start:open_at]) - len(text[decl_start:open_at].lstrip())
                )
                name = _name_of(head)
                if name:
                    if (
                        name.startswith(("struct ", "union ", "enum "))
                        and text[end : end + 1] == ";"
                    ):
                        end += 1
                    defs.append(Definition(name, start, open_at, end))
                decl_start = end
        elif ch == ";" and depth == 0:
            decl_start = i + 1
        i += 1
    return defs


def _name_of(head: str) -> str | None:
    """The name a declaration head defines: 'static int foo(int a)' -> 'foo'."""
    struct = _STRUCT_HEAD.search(head)
    if struct:
        return f"{struct.group(1)} {struct.group(2)}"
    paren = head.find("(")
    if paren < 0 or "=" in head[:paren]:
        return None  # an initialiser (static const struct x y = {...}) is no function
    match = _IDENT_BEFORE_PAREN.search(head[: paren + 1])
    return match.group(1) if match else None


def parameter_types(text: str, function: str) -> dict[str, str]:
    """The declared type of each named parameter of ``function`` as the file spells it
    ({"fd_flags": "u32"} in 6.12's system_heap_allocate, "unsigned long" in 6.1's)."""
    found = [d for d in definitions(text) if d.name == function]
    if not found:
        return {}
    head = text[found[0].start : found[0].body_start]
    params = head[head.find("(") + 1 : head.rfind(")")]
    types: dict[str, str] = {}
    for param in params.split(","):
        words = " ".join(param.split())
        match = re.match(r"^(.*?)\s*\b(\w+)$", words)
        if match and match.group(1):
            types[match.group(2)] = match.group(1)
    return types


class CFile:
    """A C file being edited: text plus the path used in error messages."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text

    def find(self, name: str) -> Definition:
        found = [d for d in definitions(self.text) if d.name == name]
        if not found:
            raise DriftError(f"{self.path}: no definition of {name}(); the file has drifted")
        if len(found) > 1:
            raise DriftError(f"{self.path}: {name} is defined {len(found)} times")
        return found[0]

    def has(self, name: str) -> bool:
        return any(d.name == name for d in definitions(self.text))

    def _anchor(self, lo: int, hi: int, anchor: str, where: str) -> int:
        at = self.text.find(anchor, lo, hi)
        if at < 0:
            raise DriftError(f"{self.path}: {where}: anchor {anchor.strip()!r} not found")
        if self.text.find(anchor, at + 1, hi) >= 0:
            raise DriftError(f"{self.path}: {where}: anchor {anchor.strip()!r} is ambiguous")
        return at

    def insert_before(self, name: str, code: str) -> None:
        """Insert top-level code (ending with a blank line) before NAME's comment/head."""
        start = self._leading_comment(self.find(name).start)
        self.text = self.text[:start] + code + self.text[start:]

    def insert_after(self, name: str, code: str) -> None:
        """Insert top-level code after the definition NAME (code starts with a newline)."""
        end = self.find(name).end
        self.text = self.text[:end] + "\n" + code.rstrip("\n") + self.text[end:]

    def replace_in(self, name: str, anchor: str, new: str) -> None:
        """Replace the one occurrence of ANCHOR inside NAME (head and body) by NEW."""
        d = self.find(name)
        at = self._anchor(d.start, d.end, anchor, f"in {name}()" if "struct" not in name else name)
        self.text = self.text[:at] + new + self.text[at + len(anchor) :]

    def replace_top(self, anchor: str, new: str) -> None:
        """Replace an anchor outside any definition (an #include line, a global)."""
        at = self._anchor(0, len(self.text), anchor, "top level")
        for d in definitions(self.text):
            if d.start <= at < d.end:
                raise DriftError(f"{self.path}: anchor {anchor.strip()!r} is inside {d.name}")
        self.text = self.text[:at] + new + self.text[at + len(anchor) :]

    def _leading_comment(self, start: int) -> int:
        """Move start back over a block comment that documents the definition."""
        before = self.text[:start].rstrip(" \t")
        if before.endswith("*/\n"):
            opening = before.rfind("/*")
            line_start = before.rfind("\n", 0, opening) + 1
            if opening >= 0 and not before[line_start:opening].strip():
                return line_start
        return start
