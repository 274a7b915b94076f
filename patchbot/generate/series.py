"""Generate a feature series on a new branch of a git kernel tree, then format-patch it.

Every edit is computed in memory from the base commit first, so a drifted file fails
before anything is written.  The commits are built with a private index file
(GIT_INDEX_FILE), so the user's worktree, index and checked-out branch are never
touched: the only change to the repository is the new branch.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchbot.errors import InputError
from patchbot.generate.cfile import CFile, parameter_types
from patchbot.generate.features import Commit, Edit, Feature
from patchbot.generate.marker import GENERATED_HEADER, generated_value
from patchbot.generate.render import Renderer, align_continuations

log = logging.getLogger(__name__)

ASSISTED_BY = re.compile(r"^[A-Za-z0-9][\w.+-]*:[\w.+-]+$")


@dataclass
class Generated:
    branch: str
    base: str
    commits: list[str]
    patches: list[Path]
    seconds: float


def open_repo(tree: Path) -> Any:
    import git

    try:
        return git.Repo(tree)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(
            f"{tree} is not a git repository (patchbot generate commits to it)"
        ) from None


def apply_edit(cfile: CFile, edit: Edit, render: Renderer) -> None:
    if edit.when and not render.params[edit.when]:
        return
    code = render(edit.template)
    if edit.kind == "before":
        cfile.insert_before(edit.target, code)
    elif edit.kind == "after":
        cfile.insert_after(edit.target, code)
    elif edit.kind == "replace":
        cfile.replace_in(edit.target, fill_anchor(edit.anchor, render.params), code)
    elif edit.kind == "top":
        cfile.replace_top(fill_anchor(edit.anchor, render.params), code)
    else:  # a feature table bug, not user input
        raise ValueError(f"unknown edit kind {edit.kind!r}")


def fill_anchor(anchor: str, params: dict[str, str]) -> str:
    """An anchor may name parameters ({{ fd_flags_type }}) found by parsing the file."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: params[m.group(1)], anchor)


def arg_types(text: str, feature: Feature) -> dict[str, str]:
    """Parameters read from the target file itself: the declared types of arguments."""
    found: dict[str, str] = {}
    for param, function, argument in feature.arg_types:
        found[param] = parameter_types(text, function).get(argument, "")
        if not found[param]:
            raise InputError(
                f"{feature.path}: cannot find argument {argument} of {function}(); "
                "the file has drifted"
            )
    return found


def check_assisted_by(value: str | None) -> None:
    if value is not None and not ASSISTED_BY.match(value):
        raise InputError(
            f"--assisted-by {value!r}: write it as AGENT:MODEL, e.g. Claude:claude-opus-4-6"
        )


def identity(repo: Any) -> tuple[str, str]:
    reader = repo.config_reader()
    name = reader.get_value("user", "name", default="")
    email = reader.get_value("user", "email", default="")
    if not name or not email:
        raise InputError("--signoff needs git config user.name and user.email in the tree")
    return str(name), str(email)


def message(commit: Commit, render: Renderer, trailers: list[str]) -> str:
    body = render(commit.message).strip()
    text = f"{commit.subject}\n\n{body}\n"
    if trailers:
        text += "\n" + "\n".join(trailers) + "\n"
    return text


def preflight(repo: Any, feature: Feature, branch: str) -> str:
    """Refuse every bad tree before anything is written; return the base commit."""
    if repo.bare:
        raise InputError(f"{repo.git_dir} is a bare repository")
    try:
        base = repo.head.commit.hexsha
    except ValueError:
        raise InputError(f"{repo.working_tree_dir} has no commits") from None
    if repo.is_dirty(index=True, working_tree=True, untracked_files=False):
        raise InputError(
            f"{repo.working_tree_dir} has uncommitted changes; commit or stash them first"
        )
    if branch in [h.name for h in repo.heads]:
        raise InputError(f"branch {branch!r} already exists in {repo.working_tree_dir}")
    try:
        repo.git.check_ref_format("--branch", branch)
    except Exception:
        raise InputError(f"{branch!r} is not a valid branch name") from None
    try:
        repo.head.commit.tree / feature.path
    except KeyError:
        raise InputError(f"{repo.working_tree_dir} has no {feature.path}") from None
    return str(base)


def probe(repo: Any, feature: Feature) -> dict[str, str]:
    """Parameters read from the tree's headers, e.g. whether a DMA attribute exists."""
    found: dict[str, str] = {}
    for param, header, candidates in feature.probes:
        try:
            text = (repo.head.commit.tree / header).data_stream.read().decode()
        except KeyError:
            text = ""
        defined = [c for c in candidates if re.search(rf"^#define\s+{c}\b", text, re.M)]
        found[param] = defined[0] if defined else ""
        log.info("generate: %s in %s: %s", param, header, found[param] or "absent")
    return found


def plan(repo: Any, feature: Feature, render: Renderer) -> list[str]:
    """The file's text after each commit, computed from the base commit."""
    blob = repo.head.commit.tree / feature.path
    cfile = CFile(feature.path, blob.data_stream.read().decode())
    texts = []
    for commit in feature.commits:
        for edit in commit.edits:
            apply_edit(cfile, edit, render)
            cfile.text = align_continuations(cfile.text)
        texts.append(cfile.text)
    return texts


def generate_series(
    tree: Path,
    feature: Feature,
    branch: str,
    outdir: Path,
    *,
    params: dict[str, str],
    template_dir: Path | None = None,
    signoff: bool = False,
    assisted_by: str | None = None,
) -> Generated:
    started = time.monotonic()
    check_assisted_by(assisted_by)
    repo = open_repo(tree)
    base = preflight(repo, feature, branch)
    trailers = []
    if assisted_by:
        trailers.append(f"Assisted-by: {assisted_by}")
    if signoff:
        name, email = identity(repo)
        trailers.append(f"Signed-off-by: {name} <{email}>")
    base_text = (repo.head.commit.tree / feature.path).data_stream.read().decode()
    parsed = arg_types(base_text, feature)
    render = Renderer({**feature.params, **probe(repo, feature), **parsed, **params}, template_dir)
    texts = plan(repo, feature, render)
    messages = [message(c, render, trailers) for c in feature.commits]
    cover = render(feature.cover).strip()
    if outdir.exists() and any(outdir.iterdir()):
        raise InputError(f"output directory {outdir} is not empty")

    mode = (repo.head.commit.tree / feature.path).mode
    commits: list[str] = []
    with tempfile.TemporaryDirectory(prefix="patchbot-generate-") as scratch:
        env = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
        g = repo.git
        g.read_tree(base, env=env)
        parent = base
        for text, msg in zip(texts, messages, strict=True):
            blob_path = Path(scratch, "blob")
            blob_path.write_text(text)
            sha = g.hash_object("-w", str(blob_path))
            g.update_index("--cacheinfo", f"{mode:o},{sha},{feature.path}", env=env)
            tree_sha = g.write_tree(env=env)
            msg_path = Path(scratch, "msg")
            msg_path.write_text(msg)
            parent = g.commit_tree(tree_sha, "-p", parent, "-F", str(msg_path))
            commits.append(parent)
    # --branch is the user's text (check-ref-format --branch already refuses '-x')
    repo.git.branch("--end-of-options", branch, parent)
    log.info("generate: %d commits on %s", len(commits), branch)

    outdir.mkdir(parents=True, exist_ok=True)
    header = f"{GENERATED_HEADER}: {generated_value(feature.name, signoff)}"
    names = repo.git.format_patch(
        "--cover-letter",
        f"--base={base}",
        f"--add-header={header}",
        "-o",
        str(outdir),
        f"{base}..{branch}",
    ).splitlines()
    patches = [Path(n) if Path(n).is_absolute() else Path(tree, n) for n in names]
    _fill_cover(patches[0], feature.cover_subject, cover)
    return Generated(branch, base, commits, patches, time.monotonic() - started)


def _fill_cover(path: Path, subject: str, blurb: str) -> None:
    text = path.read_text()
    if "*** SUBJECT HERE ***" not in text or "*** BLURB HERE ***" not in text:
        raise InputError(f"{path}: git format-patch wrote no cover letter placeholders")
    text = text.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", blurb)
    path.write_text(text)
