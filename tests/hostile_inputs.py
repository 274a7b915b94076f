"""Hostile inputs of each shape issue 16 found to stall lint: our own generated C and
mbox text, sized by the caller (tests use them near the accepted limits, bench/
lint_limits.py at the largest accepted size).

Each generator returns text; ``mbox()`` wraps a diff into a one-patch mail.
"""

from __future__ import annotations

AUTHOR = "Hostile Author <hostile@example.org>"


def mbox(diff: str, subject: str = "demo: hostile input") -> str:
    return (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        f"From: {AUTHOR}\n"
        f"Subject: [PATCH] {subject}\n\n"
        "A generated patch.\n\n"
        f"Signed-off-by: {AUTHOR}\n"
        "---\n"
        f"{diff}"
        "-- \n2.39.2\n"
    )


def new_file_diff(path: str, text: str) -> str:
    """A diff creating ``path`` with ``text``."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n"
        f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


def sparse_mbox(
    first_line: int, path: str = "drivers/misc/demo_coco.c", added: str | None = None
) -> str:
    """A hunk at line ``first_line``: without a tree the post-image is rebuilt with
    ``first_line`` blank lines before it (item 1: a 400-byte mail, a 1 MB image).
    ``added``: the lines it adds (default: one cc_platform_has() branch)."""
    lines = (
        added.rstrip("\n").split("\n")
        if added
        else ["\tif (cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT)) return demo_virtio_cread();"]
    )
    diff = (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{first_line},2 +{first_line},{len(lines) + 2} @@ static int demo_probe(void)\n"
        " {\n" + "".join(f"+{line}\n" for line in lines) + " }\n"
    )
    return mbox(diff)


def conversions_c(count: int, same: bool = True) -> str:
    """One function with ``count`` conversions, each checked and undone (item 2); by
    default all on the same memory, so every walk meets every other conversion."""
    out = [
        "#include <linux/set_memory.h>",
        "",
        "static int demo_convert_all(struct demo *d)",
        "{",
        "\tint ret;",
        "",
    ]

    def buf(k: int) -> str:
        return "d->buf" if same else f"d->buf{k}"

    for k in range(count):
        out += [
            f"\tret = set_memory_decrypted((unsigned long){buf(k)}, 1);",
            "\tif (ret)",
            f"\t\tgoto err{k};",
        ]
    out.append("\treturn 0;")
    for k in reversed(range(count)):
        out += [
            f"err{k}:",
            f"\tif (set_memory_encrypted((unsigned long){buf(k)}, 1))",
            f'\t\tpr_warn("leaking buf{k}\\n");',
            "\telse",
            f"\t\tfree_page((unsigned long){buf(k)});",
        ]
    out += ["\treturn ret;", "}", ""]
    return "\n".join(out)


def nested_c(depth: int) -> str:
    """``depth`` nested if/while blocks around a conversion (item 4)."""
    out = ["static int demo_nested(struct demo *d)", "{", "\tint ret = 0;"]
    for k in range(depth):
        out.append(("if (d->f%d) {" if k % 2 == 0 else "while (d->f%d) {") % k)
    out.append("ret = set_memory_decrypted((unsigned long)d->buf, 1);")
    out.append("if (ret) free_page((unsigned long)d->buf);")
    out += ["}"] * depth
    out += ["\treturn ret;", "}", ""]
    return "\n".join(out)


def nested_parens_c(depth: int) -> str:
    """One expression nested ``depth`` parentheses deep."""
    return (
        "static int demo_parens(int a)\n{\n\treturn " + "(" * depth + "a" + ")" * depth + ";\n}\n"
    )


def long_line_c(size: int) -> str:
    """One statement line of about ``size`` bytes repeating the same sub-expression
    (item 3: repeated-expression on a 200 KB line)."""
    term = "d->buf[i] + d->buf[i] * d->len"
    terms = max(1, size // (len(term) + 3))
    return (
        "static int demo_long(struct demo *d, int i)\n{\n\treturn "
        + " + ".join([term] * terms)
        + ";\n}\n"
    )


def open_parens_line(size: int) -> str:
    """An unbalanced line of ``size`` '(' (item 3)."""
    return "static int demo_open(void)\n{\n\treturn " + "(" * size + "\n}\n"


def many_functions_c(size: int) -> str:
    """About ``size`` bytes of ordinary small functions (item 6's size, normal shape)."""
    out: list[str] = []
    k = 0
    while sum(len(x) + 1 for x in out) < size:
        out += [
            f"static int demo_fn{k}(struct demo *d)",
            "{",
            f"\tint ret = demo_step(d, {k});",
            "",
            "\tif (ret)",
            "\t\treturn ret;",
            f"\treturn demo_other(d->field{k % 7});",
            "}",
            "",
        ]
        k += 1
    return "\n".join(out)


def headless_fragments_c(size: int) -> str:
    """About ``size`` bytes of indented body code without function headers, separated
    by blank lines: what a hunk-only image of many hunks looks like (item 6)."""
    out: list[str] = []
    k = 0
    while sum(len(x) + 1 for x in out) < size:
        out += ["", f"\tret = demo_step(d, {k});", "\tif (ret) {", "\t\tgoto out;", "\t}"]
        k += 1
    return "\n".join(out) + "\n"


def else_if_chain_c(length: int) -> str:
    """An ``else if`` chain ``length`` long: a tree as deep as the chain is long."""
    out = ["static int demo_chain(struct demo *d, int v)", "{", "\tint ret = 0;", ""]
    out.append("\tif (v == 0)\n\t\tret = set_memory_decrypted((unsigned long)d->buf, 1);")
    for k in range(1, length):
        out.append(f"\telse if (v == {k})\n\t\tret = demo_step(d, {k});")
    out += ["\treturn ret;", "}", ""]
    return "\n".join(out)


def braceless_nest_c(depth: int) -> str:
    """``if (a) if (b) ...`` ``depth`` deep without a brace."""
    ifs = "".join(f"if (d->f{k}) " for k in range(depth))
    return (
        "static int demo_bare(struct demo *d)\n{\n\tint ret = 0;\n\n\t"
        + ifs
        + "ret = set_memory_decrypted((unsigned long)d->buf, 1);\n\treturn ret;\n}\n"
    )


def nested_ifdef_c(depth: int) -> str:
    """``#ifdef`` blocks nested ``depth`` deep inside a function body."""
    out = ["static int demo_ifdef(struct demo *d)", "{", "\tint ret = 0;"]
    out += [f"#ifdef CONFIG_DEMO_{k}" for k in range(depth)]
    out.append("\tret = set_memory_decrypted((unsigned long)d->buf, 1);")
    out += ["#endif"] * depth
    out += ["\treturn ret;", "}", ""]
    return "\n".join(out)


def call_chain_c(size: int) -> str:
    """One ``+`` chain of about ``size`` bytes whose terms are calls with commas: no
    long comma-free stretch, yet a binary tree as deep as the chain is long."""
    term = "demo_get(d, i)"
    terms = max(1, size // (len(term) + 3))
    return (
        "static int demo_calls(struct demo *d, int i)\n{\n\treturn "
        + " + ".join([term] * terms)
        + ";\n}\n"
    )
