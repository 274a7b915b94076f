"""One review: lint an archived thread and turn the findings into reply messages.

Shared by `patchbot review` and `patchbot watch`; with --validate the series is also
booted in the bundled model and the cover-letter reply summarises the boots.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING

from patchbot.config import Config
from patchbot.engine import Engine, LintResult, load_rules, select_rules
from patchbot.errors import InputError
from patchbot.post.message import Reply, build_message
from patchbot.post.patchwork import Check
from patchbot.post.settings import PostSettings
from patchbot.report.common import count_summary, group_by_patch
from patchbot.watch.thread import Thread

if TYPE_CHECKING:
    from patchbot.validate.boot import BootReport

log = logging.getLogger(__name__)


def build_engine(config: Config, select: Sequence[str] = ()) -> Engine:
    rules = load_rules(config.rule_dirs)
    return Engine(select_rules(rules, config, select=select), config)


def lint(engine: Engine, thread: Thread) -> LintResult:
    from patchbot.series import images

    return engine.lint_series(thread.series, images.source_files)


def reproduce_command(thread: Thread) -> str:
    if thread.source is not None:
        return f"patchbot lint {shlex.quote(thread.source)}"
    return f"patchbot lint --archive {thread.base} --msgid '<{thread.message_id}>'"


def validate(thread: Thread, tree: str | None) -> list[BootReport]:
    """Boot every modelled driver the series touches, on none, tdx and snp with every
    single fault (what `patchbot validate` does).  A series that does not apply to the
    tree, or that the model fails on (a driver event the model cannot read), is logged
    and reviewed by lint alone: the replies still go out."""
    from patchbot.kernel.tree import resolve_tree
    from patchbot.validate.boot import boot_series

    root = resolve_tree(tree)
    try:
        return boot_series(thread.series, root)[1]
    except InputError as exc:
        log.warning("not validated in the model: %s", exc)
        return []
    except Exception as exc:  # a bug in the model met by hostile input: lint still replies
        log.error(
            "not validated in the model (internal error %s: %s); reviewed by lint alone",
            type(exc).__name__,
            " ".join(str(exc).split()),
        )
        log.debug("the model failure", exc_info=exc)
        return []


def compose(
    thread: Thread,
    result: LintResult,
    *,
    sender: str,
    validation: Sequence[BootReport] | None = None,
    settings: PostSettings | None = None,
) -> Sequence[Reply]:
    """The review mails: one per patch with findings, then the series summary.

    The thread's headers go in so each reply goes To the reviewed message's From with its
    To/Cc copied to Cc (capped at ``settings.max_recipients``, the configured lists
    first), and References continue the archived thread."""
    from patchbot.review.compose import compose_replies

    return compose_replies(
        thread.series,
        result,
        sender=sender,
        reproduce=reproduce_command(thread),
        headers=thread.headers,
        validation=validation,
        max_recipients=(settings or PostSettings()).max_recipients,
        lists=(settings or PostSettings()).lists.keys(),
    )


def reply_messages(
    thread: Thread,
    result: LintResult,
    *,
    sender: str,
    validation: Sequence[BootReport] | None = None,
    settings: PostSettings | None = None,
) -> list[EmailMessage]:
    mails = compose(thread, result, sender=sender, validation=validation, settings=settings)
    return [build_message(mail, sender=sender) for mail in mails]


def checks(thread: Thread, result: LintResult) -> list[Check]:
    """One Patchwork check per patch: warning when it has findings, success otherwise."""
    by_label = {p.label: fs for p, fs in group_by_patch(result.findings, thread.series) if p}
    out = []
    for patch in thread.series.patches:
        found = by_label.get(patch.label, [])
        out.append(
            Check(
                message_id=patch.message_id.strip("<>"),
                state="warning" if found else "success",
                description=f"patchbot: {count_summary(found)}",
                target_url=f"{thread.base}/{patch.message_id.strip('<>')}/",
            )
        )
    return out
