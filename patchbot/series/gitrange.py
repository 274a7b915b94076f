"""``--git BASE..TIP``: one Patch per commit of a local git repository.

The commits are exported with ``git format-patch --stdout`` (exactly what would be
mailed: -U3 diffs, numbered subjects, diffstat in the notes) and parsed by the same code
as an mbox, so the two inputs cannot drift apart.  Whole files come from the repository:
pre-images at the parent of the first commit, post-images at the tip.

The range is the user's text, so it never reaches git where an option could: a BASE or
TIP starting with '-' is refused outright, and every git call puts ``--end-of-options``
(git >= 2.24) before it.  Without that, ``--git=--output=F..HEAD`` made rev-list
create or truncate the file ``F..HEAD`` before the range was found to be unknown.
"""

from __future__ import annotations

import logging

import git

from patchbot.errors import InputError
from patchbot.series.assemble import RawMessage, assemble
from patchbot.series.mail import split_mbox
from patchbot.series.model import Series

log = logging.getLogger(__name__)


def load_git_range(git_range: str, repo_path: str, *, max_bytes: int = 64 << 20) -> Series:
    # checked before the repository is even opened: nothing of the range reaches git yet
    if ".." not in git_range or "..." in git_range:
        raise InputError(f"--git {git_range}: expected a range BASE..TIP")
    try:
        repo = git.Repo(repo_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(f"{repo_path}: not a git repository") from None
    base, _, tip = git_range.partition("..")
    if base.startswith("-") or tip.startswith("-"):
        raise InputError(f"--git {git_range}: BASE and TIP must be revisions, not options")
    try:
        shas = repo.git.rev_list(
            "--reverse", "--no-merges", "--topo-order", "--end-of-options", git_range
        ).split()
        tip_commit = repo.commit(tip or "HEAD")
        repo.commit(base or "HEAD")
    except (git.GitCommandError, git.BadName, ValueError):
        raise InputError(f"--git {git_range}: unknown revision in {repo_path}") from None
    if not shas:
        raise InputError(f"no patches found in {git_range}: the range holds no commits")
    data = repo.git.format_patch(
        "--stdout",
        "--numbered",
        "--no-signature",
        "--no-color",
        "-U3",
        "--binary",
        "--end-of-options",
        git_range,
        stdout_as_string=False,
    )
    if len(data) > max_bytes:
        raise InputError(
            f"--git {git_range} is {len(data)} bytes as patches, "
            f"over the input limit of {max_bytes} bytes"
        )
    raw = [
        RawMessage(chunk, _source(sep), unescape_mboxrd=False, separator=sep)
        for sep, chunk in split_mbox(data)
    ]
    series = assemble(raw, f"git:{git_range}")
    first = repo.commit(shas[0])
    parent = first.parents[0] if first.parents else None
    for patch in series.patches:
        for fd in patch.files:
            if fd.old_path and parent is not None and fd.old_path not in series.pre_images:
                text = _blob_text(parent, fd.old_path)
                if text is not None:
                    series.pre_images[fd.old_path] = text
            if fd.new_path and fd.new_path not in series.post_images:
                text = _blob_text(tip_commit, fd.new_path)
                if text is not None:
                    series.post_images[fd.new_path] = text
    log.debug("git range %s: %d commits", git_range, len(series.patches))
    return series


def _source(separator: bytes) -> str:
    # "From <sha> Mon Sep 17 00:00:00 2001"
    parts = separator.split()
    sha = parts[1].decode("ascii", "replace") if len(parts) > 1 else "?"
    return f"git:{sha[:12]}"


def _blob_text(commit: git.Commit, path: str) -> str | None:
    try:
        blob = commit.tree / path
    except KeyError:
        return None
    data: bytes = blob.data_stream.read()
    return data.decode("utf-8", "replace")
