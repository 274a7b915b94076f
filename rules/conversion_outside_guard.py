"""A memory conversion in CoCo-only code is not under a cc_platform_has() check.

What it does
------------
In a file that already treats conversions as CoCo-only (at least one conversion path is
under ``cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT)``, ``CC_ATTR_MEM_ENCRYPT`` or
``CC_ATTR_HOST_MEM_ENCRYPT``), flags each set_memory_encrypted() /
set_memory_decrypted() call, or call of a same-file helper that makes one, which is not
dominated by such a check. A call counts as guarded when it sits in the then-branch of
``if (cc_platform_has(...))``, follows an ``if (!cc_platform_has(...)) return;``, is the
right operand of ``cc_platform_has(...) && ...``, or lies in a same-file function whose
every caller is guarded. A helper only reachable through an ops
table counts as guarded when the file registers under a guard (the dma-buf heap pattern:
``if (!cc_platform_has(...)) return 0; dma_heap_add(...)``).

Why is this bad?
----------------
``__set_memory_enc_dec()`` returns 0 without doing anything when CC_ATTR_MEM_ENCRYPT is
not set, so the call itself is harmless on a normal machine. The problem is the logic
around it: error handling that leaks pages, pgprot_decrypted() mappings, DMA attributes
and state flags all run on machines where nothing was converted. When one path of a
feature is guarded and another is not, the two disagree about what state the memory is in.

Example
-------
```c
static int vm_coco_online_range(u64 addr, u64 size)
{
        if (!cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
                return 0;
        return set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(size));
}

static int vm_plug_range(u64 addr, u64 size)
{
        return set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(size));
}
```

Use instead
-----------
```c
static int vm_coco_online_range(u64 addr, u64 size)
{
        if (!cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
                return 0;
        return set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(size));
}

static int vm_plug_range(u64 addr, u64 size)
{
        if (cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))
                return set_memory_encrypted((unsigned long)__va(addr), PFN_DOWN(size));
        return 0;
}
```

Core code (paths under arch/, kernel/, mm/, lib/, include/: option ``core_paths``) is not
checked: swiotlb, dma-direct and the x86 platform code convert unconditionally on purpose.

Known false positives
---------------------
When only diff hunks are known (no tree), a function with no visible caller is not
reported: its callers may sit in lines the diff does not show.

Guards that live in another file (a probe that only binds on CoCo platforms, a Kconfig
dependency) are invisible; so are guards spelled as a helper (``my_is_coco()``). Files
where no conversion is guarded at all (drivers whose device only exists in CoCo guests,
such as sev-guest) are not checked, which is why the rule is silent there.

References
----------
MODEL-FACTS §2 and §10 (``__set_memory_enc_dec`` is a no-op without CC_ATTR_MEM_ENCRYPT;
the system_cc_shared heap registers only under ``cc_platform_has(CC_ATTR_MEM_ENCRYPT)``);
David Hildenbrand's review of "[PATCH RFC] virtio-mem: support Confidential Computing (CoCo)
environments" (2026-04-01).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patchbot.api import Context, Finding, Location, Rule, Severity
from patchbot.cparse import placement

RULE = Rule(
    id="conversion-outside-guard",
    severity=Severity.INFO,
    scope="file",
    summary="set_memory_{en,de}crypted() in CoCo-only code without a cc_platform_has() guard",
    confidence="heuristic",
    # core code converts unconditionally on purpose: the call is a no-op without
    # CC_ATTR_MEM_ENCRYPT, and swiotlb/dma-direct/kvmclock serve every platform
    options={"core_paths": ["arch/", "kernel/", "mm/", "lib/", "include/"]},
)

REGISTRATION_RE = re.compile(r"register|_add$|heap_add")


def check(ctx: Context) -> Iterable[Finding]:
    assert ctx.file is not None
    if not placement.mentions_conversion(ctx.file.text):
        return
    core = [str(p) for p in ctx.options.get("core_paths", RULE.options["core_paths"])]
    if any(ctx.file.path.startswith(prefix) for prefix in core):
        return
    # the substring test first: the regex starts with \b and would try every position
    if "cc_platform_has" not in ctx.file.text or not placement.GUARD_RE.search(ctx.file.text):
        return  # no guard anywhere: nothing to compare an unguarded conversion with
    cf = placement.cfile(ctx.file.text)
    checker = _GuardChecker(cf, complete=ctx.file.complete)
    if not checker.some_conversion_guarded():
        return  # the file does not treat conversions as CoCo-only: nothing to compare with
    reported: set[int] = set()
    for func in cf.functions.values():
        for call in func.calls:
            if call.name not in placement.ENCRYPT_CALLS | placement.DECRYPT_CALLS:
                continue
            if placement.guarded_in_function(func, call.node):
                continue
            for site, via in checker.unguarded_sites(func, call):
                if site.line in reported:
                    continue
                reported.add(site.line)
                how = f"through {via}() " if via else ""
                yield ctx.finding(
                    f"{site.function}() converts memory {how}with {call.name}() outside any "
                    "cc_platform_has() check, while other paths in this file are guarded; "
                    "should this path run on a non-CoCo machine?",
                    site.line,
                    function=site.function,
                    related=[
                        Location(
                            ctx.file.path,
                            call.line,
                            function=func.name,
                            note=f"{call.name}() called here",
                        )
                    ],
                    suggestion="test cc_platform_has(CC_ATTR_MEM_ENCRYPT) before converting",
                )


class _GuardChecker:
    def __init__(self, cf: placement.CFile, complete: bool = True) -> None:
        self.cf = cf
        self.complete = complete  # False: rebuilt from hunks, unseen callers may exist
        self._memo: dict[str, bool] = {}

    def callers_all_guarded(self, name: str) -> bool:
        """Every way into ``name`` from this file passes a guard."""
        if name in self._memo:
            return self._memo[name]
        self._memo[name] = False  # recursion counts as unguarded
        sites = [c for c in self.cf.calls_of(name) if c.function != name]
        if sites:
            result = all(self._site_guarded(site) for site in sites)
        else:
            result = self.cf.referenced_as_value(name) and self._guarded_registration()
        self._memo[name] = result
        return result

    def _site_guarded(self, site: placement.Call) -> bool:
        caller = self.cf.functions[site.function]
        return placement.guarded_in_function(caller, site.node) or self.callers_all_guarded(
            caller.name
        )

    def some_conversion_guarded(self) -> bool:
        """At least one conversion (or call of a converting helper) is under a guard."""
        for func in self.cf.functions.values():
            for call, _dirs in self.cf.conversion_calls(func):
                if placement.guarded_in_function(func, call.node):
                    return True
                if placement.direction_of(call.name) and self.callers_all_guarded(func.name):
                    return True
        return False

    def _guarded_registration(self) -> bool:
        for func in self.cf.functions.values():
            for call in func.calls:
                if REGISTRATION_RE.search(call.name) and placement.guarded_in_function(
                    func, call.node
                ):
                    return True
        return False

    def unguarded_sites(
        self, func: placement.Function, call: placement.Call
    ) -> list[tuple[placement.Call, str | None]]:
        """Where to report an unguarded conversion: at the conversion when ``func`` has no
        same-file callers, else at each unguarded call of ``func`` one level up."""
        sites = [c for c in self.cf.calls_of(func.name) if c.function != func.name]
        if not sites:
            if self.callers_all_guarded(func.name) or not self.complete:
                return []
            return [(call, None)]
        return [(site, func.name) for site in sites if not self._site_guarded(site)]
