"""Property: any C input up to 1 MB (nested, long, repetitive), as a whole file or as a
patch, lints with every bundled rule without a crash, without a rule timing out, in
under 10 CPU seconds and under 1 GiB (issue 16's target).

The examples are built from a unit of kernel-style C drawn by hypothesis (nested
blocks, else-if chains, braceless ifs, #ifdefs, gotos, long and deep expressions,
conversions and frees of a few buffers) repeated up to 1 MB.  Seeded (derandomize) and
bounded: 10 examples of each kind, about a minute and a half in all on the CI machine.
"""

from __future__ import annotations

import os

import hostile_inputs as hostile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_lint_limits import assert_bounded, lint_c, lint_mbox

MAX_INPUT = 1 << 20
CPU_TARGET = 10.0
RSS_TARGET_KB = 1 << 20  # 1 GiB, ru_maxrss is in KB

BUFFERS = ("d->buf", "page", "addr")
CALLS = (
    "ret = set_memory_decrypted((unsigned long){b}, 1);",
    "set_memory_encrypted((unsigned long){b}, 1);",
    "free_page((unsigned long){b});",
    "ret = demo_step(d, {b});",
    "if (cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT)) ret = 1;",
)


def _expression(depth: int, width: int) -> str:
    inner = " + ".join(["d->a * d->b"] * width)
    return "(" * depth + inner + ")" * depth


statements: st.SearchStrategy[str] = st.deferred(
    lambda: st.one_of(
        st.builds(lambda c, b: c.format(b=b), st.sampled_from(CALLS), st.sampled_from(BUFFERS)),
        st.builds(
            lambda d, w: f"ret = {_expression(d, w)};",
            st.integers(0, 400),
            st.integers(1, 3000),
        ),
        st.builds(
            lambda s: "if (ret) {\n" + "\n".join(s) + "\n}", st.lists(statements, max_size=3)
        ),
        st.builds(
            lambda s: "while (d->n--) {\n" + "\n".join(s) + "\n}", st.lists(statements, max_size=3)
        ),
        st.builds(lambda n, s: "if (d->f) " * n + s, st.integers(1, 300), statements),
        st.builds(
            lambda n: "\n".join(
                f"else if (ret == {k}) ret = demo_step(d, {k});" for k in range(n)
            ).replace("else if", "if", 1),
            st.integers(1, 500),
        ),
        st.builds(
            lambda n, s: "#ifdef CONFIG_A\n" * n + s + "\n" + "#endif\n" * n,
            st.integers(1, 200),
            statements,
        ),
        st.builds(lambda n: "{\n" * n + "ret = 0;\n" + "}\n" * n, st.integers(1, 400)),
        st.just("goto err;"),
        st.just("err:\n\tret = -EINVAL;"),
        st.builds(lambda n: "(" * n, st.integers(1, 5000)),
    )
)


@st.composite
def c_files(draw: st.DrawFn) -> str:
    body = draw(st.lists(statements, min_size=1, max_size=6))
    unit = "static int demo_fn(struct demo *d)\n{\n\tint ret = 0;\n" + "\n".join(body)
    unit += "\n\treturn ret;\n}\n"
    # mostly the largest accepted size: small inputs are what the other tests lint
    size = draw(st.sampled_from([MAX_INPUT, MAX_INPUT, MAX_INPUT // 2, MAX_INPUT // 8]))
    copies = max(1, size // len(unit))
    text = unit * copies
    if draw(st.booleans()):
        text = text.replace("demo_fn", "demo_fn_" + "x" * draw(st.integers(0, 3)))
    return text[:MAX_INPUT]


def _within_targets(run) -> None:
    """Run the lint in a forked child: its own peak RSS and CPU time (wait4), and a
    crash or timeout reported back as the assertion message."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: lint, report, leave without running pytest's teardown
        os.close(read_end)
        message = b""
        try:
            assert_bounded(run())
        except BaseException as exc:  # everything goes back to the parent
            message = f"{type(exc).__name__}: {exc}".encode()[:4000] or b"failed"
        os.write(write_end, message)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read().decode()
    _pid, status, usage = os.wait4(pid, 0)
    assert status == 0, f"the lint process died (status {status})"
    assert not reported, reported
    used = usage.ru_utime + usage.ru_stime
    assert used < CPU_TARGET, f"{used:.1f} CPU s"
    assert usage.ru_maxrss < RSS_TARGET_KB, f"{usage.ru_maxrss // 1024} MB"


COMMON = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@COMMON
@given(c_files())
def test_any_c_file_up_to_1mb_lints_within_targets(text):
    _within_targets(lambda: lint_c(text))


@COMMON
@given(c_files(), st.sampled_from(["new", "sparse"]))
def test_any_patch_up_to_1mb_lints_within_targets(tmp_path_factory, text, shape):
    tmp = tmp_path_factory.mktemp("mbox")
    if shape == "new":
        diff = hostile.new_file_diff("drivers/misc/demo_coco.c", text[: MAX_INPUT - 4096])
        mail = hostile.mbox(diff)
    else:
        # added deep into a file: a sparse image of up to a million blank lines first
        added = text[: MAX_INPUT // 2]
        mail = hostile.sparse_mbox(1 + len(text) % 500_000, added=added)
    _within_targets(lambda: lint_mbox(tmp, mail))
