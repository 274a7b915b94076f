"""The one surface rule modules import.

A rule module in rules/ has:
  * a module docstring with the sections  What it does / Why is this bad? / Example /
    Use instead / Known false positives / References
  * ``RULE = Rule(id=..., severity=..., scope=...)``
  * ``def check(ctx: Context) -> Iterable[Finding]`` that is pure: no I/O, no globals.

Scopes say what the engine hands to ``check``:
  * "file":   once per changed C source file (ctx.file set; ctx.patch is the patch that
              touched it, or None in --file / audit mode).  The engine keeps only
              findings the patch introduces (see engine.py).
  * "patch":  once per patch (ctx.patch set, ctx.files = that patch's C files).
  * "series": once per series (ctx.series set, ctx.files = every C file of every patch).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from patchbot.series.model import Patch, Series


class Severity(enum.IntEnum):
    INFO = 1  # also used for questions to the author
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> Severity:
        aliases = {
            "info": cls.INFO,
            "question": cls.INFO,
            "note": cls.INFO,
            "warning": cls.WARNING,
            "error": cls.ERROR,
        }
        try:
            return aliases[text.strip().lower()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None

    @property
    def label(self) -> str:
        return self.name.lower()


SCOPES = ("file", "patch", "series")


@dataclass(frozen=True)
class Rule:
    id: str  # stable kebab-case id naming the bad pattern
    severity: Severity
    scope: str  # one of SCOPES
    summary: str  # one line, shown in `patchbot rules list`
    confidence: str = "high"  # "high" or "heuristic" (heuristics phrase findings as questions)
    aliases: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)  # defaults, overridable in config
    # A question a reviewer asks once per file in a series: in patch mode the engine keeps
    # the first patch's finding and lists later patches' ones as its related locations.
    once_per_series: bool = False
    # A style rule about the code a patch adds (a copied loop, a comment that restates):
    # --file/--paths audits of existing code leave it out unless --select/--enable (or
    # `enabled = true` in the config) ask for it.  An audit of upstream drivers/virtio and
    # dma-buf heaps gave 75 such findings and no CoCo one.
    patch_review_only: bool = False


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    col: int = 1
    function: str | None = None
    note: str = ""  # what happens here, e.g. "set_memory_decrypted() fails"

    def __post_init__(self) -> None:
        # A note is one line in every report format; conditions quoted from the source can
        # span several lines, so fold their whitespace here once for all reporters.
        if "\n" in self.note or "\t" in self.note:
            object.__setattr__(self, "note", " ".join(self.note.split()))


@dataclass
class Finding:
    rule: str
    severity: Severity
    message: str
    path: str
    line: int
    col: int = 1
    function: str | None = None
    patch: str | None = None  # Patch.label of the patch that introduced it
    related: list[Location] = field(default_factory=list)  # e.g. the duplicated twin
    trace: list[Location] = field(default_factory=list)  # an event path down to the finding
    suggestion: str | None = None
    platform: str | None = None  # model findings: none/tdx/snp
    fault: str | None = None  # model findings: the injected fault schedule

    def key(self) -> tuple[str, str, str | None, str]:
        """Identity that survives line moves: used for baselines and pre/post comparison."""
        return (self.rule, self.path, self.function, self.message)


@dataclass
class SourceFile:
    """A C file as a rule sees it.

    ``text`` is the post-image.  When the whole file is known (a tree was given, or
    --file mode) ``complete`` is True.  Otherwise it is rebuilt from the hunks: lines the
    diff does not show are blank, so line numbers still match the real file.
    ``added`` holds the post-image lines the patch adds (empty set in --file/audit mode,
    where every line counts).
    """

    path: str
    text: str
    added: frozenset[int] = frozenset()
    complete: bool = True
    pre_text: str | None = None  # the pre-image under the same conventions

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


@dataclass
class Context:
    rule: Rule
    options: Mapping[str, Any]  # rule options after config overrides
    series: Series | None = None
    patch: Patch | None = None
    file: SourceFile | None = None
    files: list[SourceFile] = field(default_factory=list)

    def finding(self, message: str, line: int, *, path: str | None = None, **kw: Any) -> Finding:
        """Build a Finding of this rule with its configured severity."""
        sev = kw.pop("severity", None) or self.options.get("severity") or self.rule.severity
        if isinstance(sev, str):
            sev = Severity.parse(sev)
        if path is None:
            path = self.file.path if self.file else (kw.pop("default_path", "") or "")
        return Finding(
            rule=self.rule.id,
            severity=sev,
            message=message,
            path=path,
            line=line,
            patch=self.patch.label if self.patch else None,
            **kw,
        )


CheckResult = Iterable[Finding]
