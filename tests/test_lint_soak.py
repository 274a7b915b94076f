"""Soak: lint and review 1,000 distinct generated series in one process (issue 16 item
15, a `watch` that runs for weeks).  The resident size after 1,000 series must be about
what it was after 20: the parse and analysis caches hold one run, not the last 256 files
linted (patchbot/runcache.py).  About a minute and a half."""

from __future__ import annotations

import os

import hostile_inputs as hostile

from patchbot.config import Config
from patchbot.engine import Engine, load_rules, select_rules
from patchbot.report import render
from patchbot.series.assemble import RawMessage, assemble
from patchbot.series.images import source_files

SERIES = 1_000
WARM = 20  # imports done, one series' analyses built
FILE_BYTES = 16_000
# growth allowed from series 20 to 1,000: allocator noise, not a leak.  With caches
# that outlive a run it grew until they were full: +138 MB (64, 188, 202 MB).
ALLOWED_GROWTH_KB = 16 * 1024


def _rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") // 1024


def _series_mail(n: int) -> bytes:
    body = "\n".join(
        [
            "#include <linux/set_memory.h>",
            "",
            f"static int demo{n}_share(struct demo{n} *d)",
            "{",
            "\tint ret;",
            "",
            f"\tret = set_memory_decrypted((unsigned long)d->buf{n}, 1);",
            "\tif (ret) {",
            f"\t\tfree_page((unsigned long)d->buf{n});",
            "\t\treturn ret;",
            "\t}",
            f"\td->len{n} = d->a * d->b + {n} + d->a * d->b + {n};",
            f"\td->pad{n} = d->a * d->b + {n};",
            "\treturn 0;",
            "}",
            "",
        ]
    )
    # a driver-sized file (16 KB): what a cache holding every file linted would keep
    filler = hostile.many_functions_c(FILE_BYTES).replace("demo_fn", f"demo{n}_fn")
    diff = hostile.new_file_diff(f"drivers/misc/demo{n}.c", body + filler)
    # a hunk-only image too: fragment headers and the parse side channels
    diff += (
        f"diff --git a/drivers/misc/old{n}.c b/drivers/misc/old{n}.c\n"
        f"--- a/drivers/misc/old{n}.c\n+++ b/drivers/misc/old{n}.c\n"
        f"@@ -{100 + n},3 +{100 + n},4 @@ static int old{n}(void)\n"
        "\tint ret;\n\n"
        f"+\tret = set_memory_encrypted(addr{n}, 1);\n"
        "\treturn ret;\n"
    )
    return hostile.mbox(diff, subject=f"demo{n}: share the buffer").encode()


def test_rss_is_flat_over_1000_reviewed_series():
    config = Config()
    engine = Engine(select_rules(load_rules([]), config), config)
    rss: dict[int, int] = {}
    findings = 0
    for n in range(SERIES):
        mail = _series_mail(n).split(b"\n", 1)[1]  # (the mbox "From " line is no header)
        series = assemble([RawMessage(mail, f"soak{n}")], f"soak{n}")
        result = engine.lint_series(series, source_files)
        findings += len(result.findings)
        assert render(result, "review")  # the reply the bot would send
        if n + 1 in (WARM, 200, SERIES):
            rss[n + 1] = _rss_kb()
    assert findings >= SERIES  # every series has something to review
    growth = rss[SERIES] - rss[WARM]
    print(f"RSS after {WARM}, 200, {SERIES} series: {rss[WARM]}, {rss[200]}, {rss[SERIES]} KB")
    assert growth < ALLOWED_GROWTH_KB, f"grew {growth} KB from series {WARM} to {SERIES}"
