"""The memory-path API catalogue: data in rules/catalogue/memory_paths.toml.

Rules never hard-code API names: they ask the catalogue (and the same-file wrapper
summaries in summaries.py, which extend it per file).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from patchbot.errors import InputError
from patchbot.resources import rules_dir

KINDS = ("conversion", "free", "handback", "mapping", "dma_map")


@dataclass(frozen=True)
class ApiEntry:
    name: str
    kind: str  # one of KINDS
    arg: int  # 0-based position of the memory argument
    direction: str | None = None  # conversions: "encrypt" (to private) / "decrypt" (to shared)
    prot: int = -1  # mappings: pgprot argument, -1 when the call takes none
    attrs: int = -1  # dma_map: attrs argument, -1 when the call takes none
    wrapper_of: str | None = None  # set for same-file wrapper summaries
    # cross-file summaries (treedb): flags the function leaves true when the conversion
    # failed, as (parameter index, field): (3, "decrypted") for ``gpadl->decrypted``
    failure_flags: tuple[tuple[int, str], ...] = ()
    # same-file release summaries (helpers.py): the file-scope memory keys the function
    # frees; its calls are frees of these keys, whatever their arguments
    frees_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    entries: dict[str, ApiEntry]
    guard_functions: tuple[str, ...] = ()
    guard_attributes: tuple[str, ...] = ()
    guard_predicates: tuple[str, ...] = ()
    dma_shared_attrs: tuple[str, ...] = ()
    pgprot_decrypted: tuple[str, ...] = ("pgprot_decrypted",)
    source: str = field(default="", compare=False)

    def get(self, name: str) -> ApiEntry | None:
        return self.entries.get(name)

    def of_kind(self, kind: str) -> dict[str, ApiEntry]:
        return {n: e for n, e in self.entries.items() if e.kind == kind}

    def named_in(self, words: frozenset[str]) -> bool:
        """Is any entry among ``words`` (the identifiers of some code)?  A call needs its
        name spelled out, so code naming none of them holds no catalogued call."""
        return not words.isdisjoint(self.entries)

    def names_among(self, words: frozenset[str]) -> frozenset[str]:
        """The entries' names among ``words`` (empty when named_in() is False)."""
        return words.intersection(self.entries)

    def with_entries(self, extra: dict[str, ApiEntry]) -> Catalogue:
        """A copy extended (never overridden) by per-file wrapper summaries."""
        merged = dict(extra)
        merged.update(self.entries)
        return Catalogue(
            merged,
            self.guard_functions,
            self.guard_attributes,
            self.guard_predicates,
            self.dma_shared_attrs,
            self.pgprot_decrypted,
            self.source,
        )


def default_path() -> Path:
    return rules_dir() / "catalogue" / "memory_paths.toml"


@lru_cache(maxsize=8)
def load_catalogue(path: str | None = None) -> Catalogue:
    """Load (and cache) the catalogue; a malformed file is an InputError."""
    file = Path(path) if path else default_path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read API catalogue {file}: {exc}") from None
    entries: dict[str, ApiEntry] = {}
    for kind in KINDS:
        for item in data.get(kind, []):
            try:
                entry = ApiEntry(
                    name=item["name"],
                    kind=kind,
                    arg=int(item["arg"]),
                    direction=item.get("direction"),
                    prot=int(item.get("prot", -1)),
                    attrs=int(item.get("attrs", -1)),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{file}: bad [[{kind}]] entry {item!r}: {exc}") from None
            if kind == "conversion" and entry.direction not in ("encrypt", "decrypt"):
                raise InputError(
                    f"{file}: conversion {entry.name} needs direction encrypt or decrypt"
                )
            entries[entry.name] = entry
    guard = data.get("guard", {})
    return Catalogue(
        entries,
        tuple(guard.get("functions", ())),
        tuple(guard.get("attributes", ())),
        tuple(guard.get("predicates", ())),
        tuple(data.get("dma", {}).get("shared_attrs", ())),
        tuple(data.get("pgprot", {}).get("decrypted", ("pgprot_decrypted",))),
        str(file),
    )
