"""`patchbot generate`: kernel code and whole CoCo series from templates (docs/GENERATE.md).

    patchbot generate list
    patchbot generate helper NAME [--tree T] [--param k=v] [--print]
    patchbot generate series FEATURE --tree T --branch B -o OUTDIR [--signoff] [--assisted-by A:M]

Exit codes: 0 done, 2 bad input (no such file, drifted file, existing branch, dirty
worktree, missing template variable); the user's tree is left as it was on every error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from patchbot.errors import EXIT_CLEAN, InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate CoCo helpers or a whole patch series from templates",
        description="Render templates/ onto a kernel tree: helpers, or a series on a new branch.",
    )
    p.add_argument("--config", metavar="F", help="config file (default: nearest .patchbot.toml)")
    p.add_argument(
        "--template-dir", metavar="DIR", help="templates that win over config and bundled ones"
    )
    what = p.add_subparsers(dest="what", metavar="{list,helper,series}", required=True)
    what.add_parser(
        "list",
        help="list the helpers and series that can be generated",
        description="List the helpers and series that can be generated.",
    )

    h = what.add_parser(
        "helper",
        help="render one helper; insert it into the tree's file",
        description="Render one helper (and the helpers it calls) and insert it above the "
        "function that uses it in the tree's file, or print it (--print).",
        epilog=_catalogue("helper"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    h.add_argument("name", help="which helper (listed below)")
    h.add_argument("--tree", help="kernel tree whose file gets the helper (not with --print)")
    h.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="set a template parameter (listed below with its default); repeatable",
    )
    h.add_argument("--print", action="store_true", help="print the code, do not edit the tree")

    s = what.add_parser(
        "series",
        help="commit a feature series on a new branch and format-patch it",
        description="Commit a feature series on a new branch of the tree (the worktree and "
        "the checked-out branch are not touched) and write it with git format-patch and a "
        "cover letter to OUTDIR.",
        epilog=_catalogue("series"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("feature", help="which series (listed below)")
    s.add_argument("--tree", required=True, help="git repository of the kernel tree")
    s.add_argument("--branch", required=True, help="new branch for the commits")
    s.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="format-patch output")
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="set a template parameter (listed below with its default); repeatable",
    )
    s.add_argument("--signoff", action="store_true", help="add Signed-off-by from git config")
    s.add_argument("--assisted-by", metavar="AGENT:MODEL", help="add an Assisted-by: trailer")
    p.set_defaults(func=run)


def _catalogue(kind: str) -> str:
    """The helpers (or series) with their --param names and defaults, for --help."""
    from patchbot.generate.features import FEATURES, HELPERS  # dataclasses only: cheap

    if kind == "helper":
        entries = [(n, h.summary, FEATURES[h.feature].params) for n, h in HELPERS.items()]
    else:
        entries = [(n, f.summary, f.params) for n, f in FEATURES.items()]
    lines = [
        f"{'helpers' if kind == 'helper' else 'series'} (--param NAME=VALUE overrides a default):"
    ]
    for name, summary, params in entries:
        lines.append(f"  {name:20} {summary}")
        lines.append(f"  {'':20} defaults: {', '.join(f'{k}={v}' for k, v in params.items())}")
    return "\n".join(lines)


def _params(pairs: list[str], known: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--param {pair!r}: write it as NAME=VALUE")
        if key not in known:
            raise InputError(f"--param {key}: unknown; known: {', '.join(sorted(known))}")
        if not re.fullmatch(r"[A-Za-z_]\w*( [A-Za-z_]\w*)?", value):
            raise InputError(
                f"--param {key}={value!r}: a C identifier (or 'struct NAME') is expected"
            )
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from patchbot.config import load_config
    from patchbot.generate.features import FEATURES, HELPERS

    config = load_config(args.config)
    template_dir = Path(args.template_dir) if args.template_dir else config.template_dir
    if args.what == "list":
        for name, feature in FEATURES.items():
            print(f"series  {name:22} {feature.summary}")
        for name, helper in HELPERS.items():
            print(f"helper  {name:22} {helper.summary}")
        return EXIT_CLEAN
    if args.what == "helper":
        return _helper(args, template_dir)
    return _series(args, template_dir)


def _helper(args: argparse.Namespace, template_dir: Path | None) -> int:
    from patchbot.generate.cfile import CFile, definitions
    from patchbot.generate.features import FEATURES, HELPERS
    from patchbot.generate.render import Renderer, align_continuations
    from patchbot.kernel.tree import is_embedded, resolve_tree

    helper = HELPERS.get(args.name)
    if helper is None:
        raise InputError(f"no helper {args.name!r}; `patchbot generate list` names them")
    feature = FEATURES[helper.feature]
    render = Renderer({**feature.params, **_params(args.param, feature.params)}, template_dir)
    chain = [HELPERS[n] for n in helper.needs] + [helper]
    if args.print:
        sys.stdout.write(align_continuations("".join(render(h.template) for h in chain)))
        return EXIT_CLEAN
    if not args.tree:
        raise InputError("generate helper edits a tree's file: give --tree T (or --print)")
    tree = resolve_tree(args.tree)
    if is_embedded(tree):
        # the model, lint and validate --kernel all take this copy as the unmodified base
        raise InputError(f"{tree} is one of patchbot's cached trees: it stays unmodified")
    path = tree / feature.path
    if not path.is_file():
        raise InputError(f"{tree} has no {feature.path}")
    cfile = CFile(feature.path, path.read_text())
    for h in chain:
        code = render(h.template)
        taken = [d.name for d in definitions(code) if cfile.has(d.name)]
        if taken:
            raise InputError(f"{path} already defines {', '.join(taken)}; nothing inserted")
        cfile.insert_before(h.before, code)
        cfile.text = align_continuations(cfile.text)
    path.write_text(cfile.text)
    print(f"patchbot: inserted {', '.join(h.name for h in chain)} into {path}")
    return EXIT_CLEAN


def _series(args: argparse.Namespace, template_dir: Path | None) -> int:
    from patchbot.generate.features import FEATURES
    from patchbot.generate.series import generate_series

    feature = FEATURES.get(args.feature)
    if feature is None:
        raise InputError(f"no series {args.feature!r}; known: {', '.join(FEATURES)}")
    result = generate_series(
        Path(args.tree),
        feature,
        args.branch,
        Path(args.output),
        params=_params(args.param, feature.params),
        template_dir=template_dir,
        signoff=args.signoff,
        assisted_by=args.assisted_by,
    )
    for patch in result.patches:
        print(patch)
    print(
        f"patchbot: {len(result.commits)} commits on {result.branch} "
        f"(base {result.base[:12]}) in {result.seconds:.1f} s"
    )
    return EXIT_CLEAN
