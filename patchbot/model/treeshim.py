"""The shim that follows the tree: derive what the hand-written shim lacks from the tree.

The hand-written shim (patchbot/model/shim/) carries the semantics of the memory-path
API only.  When a driver from another kernel version includes a header or names a
symbol the shim lacks, gcc's own diagnostics drive a few rounds of generation:

* ``No such file`` for ``linux/x.h``: a fallback header (empty but for the shim's
  kernel.h), so the include resolves;
* an unknown name (implicit declaration, undeclared, unknown type, incomplete struct,
  undefined reference): its definition is looked up in the tree's headers
  (:mod:`patchbot.model.treedefs`) and copied into the generated ``pb_tree.h`` when it is
  a macro, an enum, a typedef, a struct or a self-contained static inline; an external
  function keeps the tree's prototype (so calls are still type-checked) and links to one
  zero-returning stub (an assembler alias), which is what a no-op of any scalar or
  pointer signature is on x86_64.

Names of the memory path (the catalogue's APIs, and anything declared in a memory-path
header: conversions, the page allocator, memory hotplug, virtio, dma-buf and DMA mapping)
are never stubbed: they become :class:`NeedsApi` results naming the function and its
call sites (the ``model-needs-api`` finding), because a silent no-op there would hide
exactly what the model exists to check.  So does a name the tree does not define.

The driver is compiled through a generated translation unit: the driver's leading
``#include`` block, then ``#include "pb_tree.h"``, then the rest under a ``#line``
directive, so __LINE__, __func__ and every diagnostic still name the driver's own lines.
Everything generated lives under ``cache_dir()/model-tree/<tree key>/`` (never in the
repository): a second build of the same driver on the same tree reuses it and runs gcc
once (or not at all, when the .so is cached).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from patchbot.cparse.catalogue import load_catalogue
from patchbot.kernel.tree import cache_dir
from patchbot.model.build import (
    SHIM_DIR,
    BuildFailure,
    BuildResult,
    build_driver,
    check_syntax,
    shim_dirs,
)
from patchbot.model.treedefs import Definition, TreeDefinitions, tree_key

log = logging.getLogger(__name__)

MAX_ROUNDS = 12

# Headers whose API is the memory path: a name declared there is the model's business,
# never a generated stub.
MEMORY_PATH_HEADERS = re.compile(
    r"^(linux|asm|asm-generic)/("
    r"set_memory|mem_encrypt|cc_platform|memory_hotplug|memory|mmzone|gfp|gfp_types|"
    r"page-flags|page_ref|mm|mm_types|highmem|vmalloc|pgtable|pfn|memremap|swiotlb|"
    r"virtio|virtio_config|virtio_ring|dma-buf|dma-mapping|dma-direction|dma-heap|dma-resv|"
    r"dma-direct|scatterlist|iosys-map|page|io)\.h$"
)

Q = "[\u2018\u2019'`]"
_NAME_ERRORS = [
    ("name", re.compile(rf"implicit declaration of function {Q}(\w+){Q}")),
    ("name", re.compile(rf"{Q}(\w+){Q} undeclared")),
    ("name", re.compile(rf"unknown type name {Q}(\w+){Q}")),
    (
        "struct",
        re.compile(rf"(?:invalid use of undefined type|incomplete type) {Q}struct (\w+){Q}"),
    ),
    ("link", re.compile(rf"undefined reference to {Q}(\w+){Q}")),
    ("member", re.compile(rf"{Q}struct (\w+){Q} has no member named {Q}(\w+){Q}")),
    # the hand-written shim spells a function differently from this tree
    ("signature", re.compile(rf"too (?:many|few) arguments to function {Q}(\w+){Q}")),
    ("signature", re.compile(rf"incompatible type for argument \d+ of {Q}(\w+){Q}")),
    ("signature", re.compile(r'macro "(\w+)" (?:passed \d+ arguments, but takes just|requires)')),
]
_MISSING_HEADER = re.compile(r"([\w/.-]+\.h): No such file or directory")
_LOC = re.compile(r"^(\S+?):(\d+):\d+: (?:fatal )?error: (.*)$")
_LINK_LOC = re.compile(r"^(\S+?):(\d+): (undefined reference .*)$")  # ld: no column
_STRIP_ATTRS = re.compile(
    r"\b(?:extern|__must_check|__cold|__init|__exit|asmlinkage|notrace|__malloc|__pure|"
    r"__weak|__sched|__attribute_const__|__deprecated|__noreturn|__flatten|__always_inline|"
    r"__printf\([^)]*\)|__scanf\([^)]*\)|__alloc_size\([^)]*\)|__realloc_size\([^)]*\)|"
    r"__attribute__\s*\(\(.*?\)\)|"
    # sparse and layout annotations the shim has no use for
    r"__rcu|__percpu|__private|__randomize_layout|__packed|__aligned\([^)]*\)|"
    r"____cacheline_aligned(?:_in_smp)?)(?!\w)\s*"
)


@dataclass
class NeedsApi:
    """A name the model cannot derive: a memory-path API, or one the tree lacks."""

    name: str
    reason: str
    lines: list[int] = field(default_factory=list)  # call sites in the driver

    def message(self, source: str) -> str:
        where = ", ".join(f"{source}:{n}" for n in self.lines) or source
        return f"{self.name} ({where}): {self.reason}"


@dataclass
class TreeBuild:
    """The outcome of building a driver against the shim and its tree-derived part."""

    result: BuildResult | BuildFailure
    needs_api: list[NeedsApi] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)  # names derived from the tree
    headers: list[str] = field(default_factory=list)  # fallback headers generated
    rounds: int = 0
    cached: bool = False


def memory_path_names() -> frozenset[str]:
    cat = load_catalogue()
    return frozenset(
        [*cat.entries, *cat.guard_functions, *cat.dma_shared_attrs, *cat.pgprot_decrypted]
    )


def _shim_has_header(shim_name: str, header: str) -> bool:
    return any((d / header).is_file() for d in shim_dirs(shim_name))


def _shim_names(shim_name: str, name: str) -> bool:
    """Does the hand-written shim define or declare ``name`` anywhere?"""
    return re.search(rf"\b{re.escape(name)}\b", _shim_text(shim_name)) is not None


@lru_cache(maxsize=8)
def _shim_text(shim_name: str) -> str:
    return "\n".join(
        p.read_text(errors="replace") for d in shim_dirs(shim_name) for p in sorted(d.rglob("*.h"))
    )


def _shim_defines_struct(shim_name: str, struct: str) -> bool:
    """Does the hand-written shim define ``struct NAME { ... }`` (not just declare it)?"""
    return re.search(rf"\bstruct\s+{struct}\s*\{{", _shim_text(shim_name)) is not None


def split_driver(text: str) -> int:
    """Number of leading lines that hold the driver's include block (pb_tree.h goes
    after them): up to the last #include before the first line of C code."""
    last = 0
    in_comment = False
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if in_comment:
            in_comment = "*/" not in s
            continue
        if s.startswith("/*"):
            in_comment = "*/" not in s
            continue
        if not s or s.startswith("//"):
            continue
        if s.startswith("#"):
            if re.match(r"#\s*include\b", s):
                last = i
            continue
        break
    return last


def _clean(text: str) -> str:
    return _STRIP_ATTRS.sub("", text)


def _prototype(defn: Definition) -> str | None:
    """The tree's declaration of a function without attributes, or None when its return
    value cannot be a zero in a register (a struct by value)."""
    head = defn.text.split("{", 1)[0].strip().rstrip(";").strip()
    head = _clean(head)
    head = re.sub(r"\b(static|inline)\b\s*", "", head)
    ret = head.split(defn.name, 1)[0]
    if re.search(r"\b(struct|union)\b", ret) and "*" not in ret:
        return None
    return head + ";"


class GeneratedShim:
    """The tree-derived part of the shim for one (tree, shim, driver)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.defs: dict[str, tuple[str, str]] = {}  # name -> (kind, C text)
        self.headers: list[str] = []
        self.stubs: list[str] = []  # names linked to the zero stub
        self.failed: set[str] = set()
        self.spans: list[tuple[int, int, str]] = []  # pb_tree.h lines of each definition

    def load(self, state: Path | None = None) -> bool:
        state = state or self.dir / "state.json"
        if not state.is_file():
            return False
        data = json.loads(state.read_text())
        self.defs = {k: (v[0], v[1]) for k, v in data["defs"].items()}
        self.headers, self.stubs = data["headers"], data["stubs"]
        return True

    def save(self) -> None:
        data = json.dumps({"defs": self.defs, "headers": self.headers, "stubs": self.stubs})
        (self.dir / "state.json").write_text(data)
        # the next driver of this shim on this tree (a patched copy) starts from here
        (self.dir.parent / f"{self.dir.name.split('-')[0]}-latest.json").write_text(data)

    def render(self, base_header: str) -> str:
        order = ("macro", "typedef", "enum", "struct", "variable", "function", "inline")
        structs = sorted(
            {
                m
                for kind, text in self.defs.values()
                if kind in ("function", "inline", "variable")
                for m in re.findall(r"\bstruct\s+(\w+)", text)
            }
        )
        out = [
            "/* generated by patchbot.model.treeshim from the tree's headers; not shim code */",
            "#ifndef PB_TREE_H",
            "#define PB_TREE_H",
            f"#include <{base_header}>",
            *(f"struct {s};" for s in structs),
        ]
        self.spans = []
        for kind in order:
            for name, (k, text) in sorted(self.defs.items()):
                if k != kind:
                    continue
                first = len(out) + 1
                body = text.splitlines()
                if kind == "macro":
                    body = [f"#ifndef {name}", *body, "#endif"]
                out += [f"/* {name} */", *body]
                self.spans.append((first, len(out), name))
        out.append("#endif")
        return "\n".join(out) + "\n"

    def owner_of_line(self, line: int) -> str | None:
        for first, last, name in self.spans:
            if first <= line <= last:
                return name
        return None

    def write(self, driver_file: Path, base_header: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        for header in self.headers:
            path = self.dir / "include" / header
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                f"/* generated: the shim has no {header}; what the driver uses from it "
                f"is derived in pb_tree.h */\n#include <{base_header}>\n"
            )
        (self.dir / "include").mkdir(exist_ok=True)
        (self.dir / "include" / "pb_tree.h").write_text(self.render(base_header))
        text = driver_file.read_text(errors="replace")
        cut = split_driver(text)
        lines = text.splitlines()
        stub = ""
        if self.stubs:
            aliases = "".join(
                f'__asm__(".globl {n}\\n.set {n}, pb_tree_zero");\n' for n in self.stubs
            )
            stub = (
                "/* stubs derived from the tree's prototypes: each returns 0 */\n"
                "long pb_tree_zero(void) { return 0; }\n" + aliases
            )
        unit = "\n".join(
            [
                f'#line 1 "{driver_file}"',
                *lines[:cut],
                '#include "pb_tree.h"',
                f'#line {cut + 1} "{driver_file}"',
                *lines[cut:],
                '#line 1 "pb_tree_stubs.c"',
                stub,
            ]
        )
        tu = self.dir / "tu" / driver_file.name
        tu.parent.mkdir(parents=True, exist_ok=True)
        tu.write_text(unit + "\n")
        return tu


# Every shim directory has a linux/kernel.h that pulls in that driver's base header
# (pb_kernel.h, pb_heap_kernel.h): generated headers start from it.
BASE_HEADER = "linux/kernel.h"


def _diagnostic_lines(failure: BuildFailure) -> list[tuple[str, int, str]]:
    out = []
    for d in failure.diagnostics:
        m = _LOC.match(d) or _LINK_LOC.match(d)
        if m:
            out.append((m.group(1), int(m.group(2)), m.group(3)))
        else:
            out.append(("", 0, d))
    return out


def build_following_tree(
    driver_file: Path, tree: Path, shim_name: str, rel_source: str
) -> TreeBuild:
    """Build ``driver_file`` against the shim, deriving from ``tree`` what the shim lacks."""
    driver_text = driver_file.read_bytes()
    shim_digest = hashlib.sha256()
    for p in sorted(SHIM_DIR.rglob("*")):
        if p.is_file():
            shim_digest.update(p.read_bytes())
    key = hashlib.sha256(driver_text + shim_digest.digest()).hexdigest()[:20]
    tkey = tree_key(tree)
    gen = GeneratedShim(cache_dir() / "model-tree" / tkey / f"{shim_name}-{key}")
    cached = gen.load()
    if not cached:  # a patched driver usually needs what the last build derived
        gen.load(gen.dir.parent / f"{shim_name}-latest.json")
    defs = TreeDefinitions(tree, tkey)
    memory_path = memory_path_names()
    base = BASE_HEADER
    outcome = TreeBuild(result=BuildFailure(rel_source), cached=cached)
    needs: dict[str, NeedsApi] = {}
    include = [gen.dir / "include"]
    syntax_ok = cached
    for rounds in range(1, MAX_ROUNDS + 1):
        tu = gen.write(driver_file, base)
        outcome.rounds = rounds
        if not syntax_ok:
            # cheap rounds first: headers, names and types need no code generation
            errors = check_syntax(tu, tree, shim_name, include)
            if errors:
                failure = BuildFailure(rel_source, [], errors)
                if _resolve(failure, gen, defs, memory_path, needs, driver_file, shim_name):
                    continue
            syntax_ok = True  # or stuck: the full build reports what is left
        result = build_driver(tu, tree, shim_name, rel_source, extra_includes=include)
        outcome.result = result
        if isinstance(result, BuildResult):
            gen.save()
            break
        progress = _resolve(result, gen, defs, memory_path, needs, driver_file, shim_name)
        if not progress:
            break
    outcome.needs_api = list(needs.values())
    outcome.generated = sorted(gen.defs) + sorted(gen.stubs)
    outcome.headers = list(gen.headers)
    return outcome


def _resolve(
    failure: BuildFailure,
    gen: GeneratedShim,
    defs: TreeDefinitions,
    memory_path: frozenset[str],
    needs: dict[str, NeedsApi],
    driver_file: Path,
    shim_name: str,
) -> bool:
    """Generate what the diagnostics ask for; False when nothing new can be generated."""
    progress = False
    driver = str(driver_file)
    wanted: dict[str, tuple[str, list[int]]] = {}
    broken: list[tuple[str, str]] = []  # (derived name, the error in its definition)
    for path, line, msg in _diagnostic_lines(failure):
        m = _MISSING_HEADER.search(msg)
        if m:
            header = m.group(1)
            if header not in gen.headers and not _shim_has_header(shim_name, header):
                gen.headers.append(header)
                progress = True
            continue
        # ld names the translation unit (tu/<driver name>), gcc the #line file
        in_driver = path == driver or Path(path).name == driver_file.name
        for kind, pat in _NAME_ERRORS:
            hit = pat.search(msg)
            if not hit:
                continue
            if kind == "member" and not _shim_defines_struct(shim_name, hit.group(1)):
                prev = wanted.setdefault(hit.group(1), ("struct", []))
                if in_driver and line not in prev[1]:
                    prev[1].append(line)
                break
            if kind == "signature":
                reason = "the shim declares it with another signature than this tree"
                _need(needs, hit.group(1), reason, [line] if in_driver else [])
                break
            if kind == "member":
                struct, member = hit.group(1), hit.group(2)
                entry = needs.setdefault(
                    f"struct {struct}.{member}",
                    NeedsApi(
                        f"struct {struct}.{member}",
                        "the shim's struct has no such member (add it to the hand-written shim)",
                    ),
                )
                if in_driver and line not in entry.lines:
                    entry.lines.append(line)
                break
            name = hit.group(1)
            prev = wanted.setdefault(name, (kind, []))
            if in_driver and line not in prev[1]:
                prev[1].append(line)
            break
        else:
            if path.endswith("pb_tree.h"):
                owner = gen.owner_of_line(line)
                if owner and owner not in gen.failed:
                    broken.append((owner, msg))
    # a name the shim defines is reported only as a knock-on error (e.g. kzalloc passed
    # to a macro that is not derived yet): never replace the shim's semantics
    names = [
        n
        for n in wanted
        if n not in gen.defs and n not in gen.stubs and not _shim_names(shim_name, n)
    ]
    found = defs.lookup(names) if names else {}
    for name in names:
        kind, lines = wanted[name]
        defn = found.get(name)
        if name in memory_path or (
            defn
            and MEMORY_PATH_HEADERS.match(defn.header)
            and not _inert(defn, defs, memory_path, shim_name)
        ):
            where = f" (declared in {defn.header})" if defn else ""
            _need(needs, name, f"a memory-path API{where} the model has no semantics for", lines)
            continue
        if defn is None:
            _need(needs, name, "defined neither by the shim nor by the tree's headers", lines)
            continue
        if defn.kind == "function":
            proto = _prototype(defn)
            if proto is None:
                _need(needs, name, f"{defn.header} returns a struct by value: no stub", lines)
                continue
            gen.defs[name] = ("function", proto)
            gen.stubs.append(name)
        elif defn.kind == "variable":
            gen.defs[name] = ("variable", _clean(defn.text))  # a zeroed tentative definition
        else:
            gen.defs[name] = (defn.kind, _clean(defn.text))
        log.debug("derived %s (%s) from %s", name, defn.kind, defn.header)
        progress = True
    if not progress:
        # only when nothing else was missing: a macro whose helpers are not derived yet
        # fails to parse for that reason alone
        for owner, msg in broken:
            if owner in gen.defs and owner not in gen.failed:
                progress |= _downgrade(gen, owner, msg, needs)
    return progress


# What may stand before "(" in a macro body without being a call of a function.
_NOT_CALLS = frozenset(
    {
        "sizeof",
        "typeof",
        "__typeof__",
        "_Generic",
        "__alignof__",
        "_Alignof",
        "defined",
        "if",
        "while",
        "for",
        "switch",
        "return",
        "__VA_OPT__",
    }
)
_CALLEE = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_MACRO_HEAD = re.compile(r"#\s*define\s+\w+(?:\(([^)]*)\))?")
MAX_INERT_DEPTH = 8  # BIT() -> UL() -> _UL() -> _AC() -> __AC(): 5 levels


def _inert(
    defn: Definition,
    defs: TreeDefinitions,
    memory_path: frozenset[str],
    shim_name: str,
    depth: int = 0,
) -> bool:
    """Does a definition of a memory-path header carry no behaviour of its own?

    A flags typedef, an enum, or a macro that expands only to constants, types, its own
    parameters and further such macros (2026's acr_flags_t, ACR_FLAGS_NONE and
    default_gfp() in gfp.h) is derived like any other tree name.  A function, an
    inline, or a macro that ends in a call of a function the shim does not define
    (``alloc_hooks(alloc_contig_range_noprof(...))``) is the model's business: the
    caller reports it as ``model-needs-api``.  Measured on the 2026 virtio_mem.c: 3
    false findings (ACR_FLAGS_NONE, default_gfp, acr_flags_t) without this, none with.
    """
    if defn.kind in ("typedef", "enum"):
        return True
    if defn.kind != "macro" or depth > MAX_INERT_DEPTH:
        return False
    head = _MACRO_HEAD.match(defn.text.lstrip())
    if head is None:
        return False
    params = {p.strip() for p in (head.group(1) or "").split(",")} | {"__VA_ARGS__"}
    body = defn.text.lstrip()[head.end() :]
    callees = {
        c
        for c in _CALLEE.findall(body)
        if c not in params and c not in _NOT_CALLS and not c.startswith("__builtin_")
    }
    if defn.name in callees or callees & memory_path:
        return False
    # a name the hand-written shim defines keeps the shim's semantics when called
    unknown = sorted(c for c in callees if not _shim_names(shim_name, c))
    found = defs.lookup(unknown) if unknown else {}
    return all(
        (sub := found.get(c)) is not None
        and sub.kind == "macro"
        and _inert(sub, defs, memory_path, shim_name, depth + 1)
        for c in unknown
    )


def _need(needs: dict[str, NeedsApi], name: str, reason: str, lines: list[int]) -> None:
    entry = needs.setdefault(name, NeedsApi(name, reason))
    entry.lines += [n for n in lines if n not in entry.lines]


def _downgrade(gen: GeneratedShim, name: str, msg: str, needs: dict[str, NeedsApi]) -> bool:
    """A copied definition does not compile here: a static inline becomes its prototype
    and a stub; anything else is reported."""
    gen.failed.add(name)
    kind, text = gen.defs[name]
    if kind == "inline":
        proto = _prototype(Definition(name, "function", "", text))
        if proto:
            gen.defs[name] = ("function", proto)
            gen.stubs.append(name)
            return True
    del gen.defs[name]
    _need(needs, name, f"the tree's definition does not build against the shim: {msg}", [])
    return True
