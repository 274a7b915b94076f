"""The in-memory shape of a patch series, shared by every input parser and every rule.

Parsers in this package build these objects; nothing here does I/O.
Line numbers are 1-based, as in diffs and compiler messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Trailer:
    key: str  # as written, e.g. "Signed-off-by"
    value: str
    line: int  # 1-based line inside the commit message body


@dataclass(frozen=True)
class DiffLine:
    kind: str  # " " context, "+" added, "-" removed
    text: str  # without the leading marker and without the newline
    old_no: int | None  # line number in the pre-image (None for added lines)
    new_no: int | None  # line number in the post-image (None for removed lines)


@dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str  # text after the second @@ (usually the enclosing function)
    lines: list[DiffLine] = field(default_factory=list)


@dataclass
class FileDiff:
    old_path: str | None  # None for a new file
    new_path: str | None  # None for a deleted file
    hunks: list[Hunk] = field(default_factory=list)
    is_binary: bool = False
    # the pre-image blob the git `index` line names (abbreviated hex), None without one or
    # for a new file: with a tree whose objects hold it, the exact pre-image
    old_blob: str | None = None

    @property
    def path(self) -> str:
        """The path findings are reported against (post-image path unless deleted)."""
        return self.new_path or self.old_path or ""

    def added_lines(self) -> dict[int, str]:
        """Post-image line number -> text, for every line the diff adds."""
        return {
            ln.new_no: ln.text
            for h in self.hunks
            for ln in h.lines
            if ln.kind == "+" and ln.new_no is not None
        }

    def removed_lines(self) -> dict[int, str]:
        """Pre-image line number -> text, for every line the diff removes."""
        return {
            ln.old_no: ln.text
            for h in self.hunks
            for ln in h.lines
            if ln.kind == "-" and ln.old_no is not None
        }


@dataclass
class Patch:
    """One message of a series that carries a diff (or the cover letter, with no diff)."""

    subject: str  # the Subject header, unfolded
    title: str  # subject without the [PATCH ...] prefix
    tags: list[str] = field(default_factory=list)  # e.g. ["PATCH"], ["RFC", "PATCH"]
    version: int = 1  # vN from the prefix
    number: int | None = None  # N of N/M
    total: int | None = None  # M of N/M
    author_name: str = ""
    author_email: str = ""
    date: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    # X-Patchbot-Generated: the `patchbot generate series` command that wrote this mail
    generated_by: str = ""
    body: str = ""  # commit message: everything above the first '---' line
    trailers: list[Trailer] = field(default_factory=list)
    notes: str = ""  # between '---' and the diff (changelog, diffstat)
    diff_text: str = ""
    files: list[FileDiff] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # damage found while parsing
    applicable: bool = True  # False when the diff was repaired (quoted, mangled)
    source: str = ""  # where it came from: "series.mbox#3", "0002-foo.patch", "git:abc123"
    is_cover: bool = False

    @property
    def label(self) -> str:
        """How reports name the patch: '2/7' when numbered, else its title."""
        if self.number is not None and self.total is not None:
            return f"{self.number}/{self.total}"
        return self.title


@dataclass
class Series:
    patches: list[Patch] = field(default_factory=list)  # in N order, cover letter excluded
    cover: Patch | None = None
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    # Whole pre-/post-image files when a tree is known (--tree or --git): path -> text
    pre_images: dict[str, str] = field(default_factory=dict)
    post_images: dict[str, str] = field(default_factory=dict)
