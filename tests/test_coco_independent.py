"""The independent corpus (issue 18): our fixtures per failure class, and the 6.12 audit.

tests/labels/independent-coco.toml labels our own fixtures (one file per failure class:
flags, short-circuit conditions, positive returns, cleared pointers, catalogue names,
helpers in another file) next to Debian 6.12 functions; bench/coco_independent.py scores
them.  The fixture part runs here without a kernel tree; the 6.12 part needs the tree.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO, load_bench

from patchbot.api import SourceFile


def _bench() -> ModuleType:
    return load_bench("coco_independent")


def test_fixture_classes_match_labels() -> None:
    bench = _bench()
    ind = bench.load()
    acc = bench._accuracy()
    files = [SourceFile(path=rel, text=(REPO / rel).read_text()) for rel in ind.corpus.fixtures]
    findings, errors = acc.run_rules(ind.corpus.rules, files)
    assert not errors, errors
    ind.corpus.labels = {k: v for k, v in ind.corpus.labels.items() if k[0].startswith("tests/")}
    result = acc.score(ind.corpus, findings, files)
    assert result.mismatches == [], "\n" + "\n".join(result.mismatches)
    assert result.tp, "the fixtures hold violations"


@pytest.mark.slow
@pytest.mark.kernel_tree
def test_612_audit_is_triaged_and_true_findings_kept() -> None:
    bench = _bench()
    ind, _files, result, keys, errors, _seconds = bench.measure(None)
    assert not errors, errors
    rows, counts = bench.triage_lines(bench.load_triage(), keys)
    assert counts["untriaged"] == 0, [r for r in rows if "untriaged" in r]
    assert not [r for r in rows if "now missed" in r], "a true 6.12 finding was lost"
    clean_alarmed, clean = bench.false_alarm_rate(ind, result)
    assert clean_alarmed * 20 <= clean, (clean_alarmed, clean)


def test_external_entries_name_their_rebuild() -> None:
    ind = _bench().load(external_dir=Path("/nonexistent"))
    assert ind.externals
    for entry in ind.externals:
        assert entry["source"] and entry["rebuild"], entry


def _call(name: str, arg: int) -> str:
    args = ["dev"] * (arg + 2)
    args[arg] = "buf"
    args[-1] = "1"
    return f"{name}({', '.join(args)})"


def _catalogue_snippets(name: str, arg: int, direction: str) -> dict[str, str]:
    """One function per CoCo rule that must react to the conversion ``name``."""
    call = _call(name, arg)
    if direction == "decrypt":
        leak = (
            "static unsigned long demo_leak(struct device *dev)\n{\n"
            "\tunsigned long buf = __get_free_page(GFP_KERNEL);\n\n"
            f"\tif ({call}) {{\n\t\tfree_page(buf);\n\t\treturn 0;\n\t}}\n\treturn buf;\n}}\n"
        )
    else:
        leak = (
            "static void demo_leak(struct device *dev, unsigned long buf)\n{\n"
            f'\tif ({call})\n\t\tpr_warn("re-encryption failed\\n");\n'
            "\tfree_page(buf);\n}\n"
        )
    guard = (
        "static int demo_guarded(struct device *dev, unsigned long buf)\n{\n"
        "\tif (!cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT))\n\t\treturn 0;\n"
        f"\treturn {call};\n}}\n\n"
        "static int demo_unguarded(struct device *dev, unsigned long buf)\n{\n"
        f"\treturn {call};\n}}\n"
    )
    return {"leak-on-failure": leak, "conversion-outside-guard": guard}


def test_every_catalogue_conversion_reaches_every_rule() -> None:
    """Each catalogued conversion, spelled in our own snippets, draws the finding of every
    CoCo rule that reacts to a conversion (names come from the catalogue, not a list)."""
    from patchbot.cparse.catalogue import load_catalogue

    acc = _bench()._accuracy()
    conversions = load_catalogue().of_kind("conversion").values()
    assert {"set_pages_encrypted", "set_pages_decrypted"} <= {e.name for e in conversions}
    missed: list[str] = []
    for entry in conversions:
        assert entry.direction is not None
        for rule, text in _catalogue_snippets(entry.name, entry.arg, entry.direction).items():
            path = f"demo_{entry.name}_{rule}.c"
            findings, errors = acc.run_rules([rule], [SourceFile(path=path, text=text)])
            assert not errors, errors
            if not any(f.rule == rule for f in findings):
                missed.append(f"{rule} misses {entry.name}()")
    assert missed == []
