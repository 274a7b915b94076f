"""Load and render generation templates: a user template directory wins over the bundled one.

StrictUndefined makes a template that uses a variable nobody passed fail with a one-line
InputError (exit 2) instead of silently writing an empty string into kernel code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from patchbot.errors import InputError


def environment(user_dir: Path | None = None) -> Any:
    import jinja2

    from patchbot.resources import templates_dir

    search = [str(user_dir)] if user_dir else []
    if user_dir and not user_dir.is_dir():
        raise InputError(f"template directory {user_dir} does not exist")
    search.append(str(templates_dir()))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # C code and mail text, not HTML
    )


def _indent_column(line: str) -> int:
    stripped = line.lstrip()
    return _display_width(line[: len(line) - len(stripped)])


def _display_width(prefix: str) -> int:
    col = 0
    for ch in prefix:
        col = (col // 8 + 1) * 8 if ch == "\t" else col + 1
    return col


def _open_paren_column(line: str) -> int | None:
    """Display column just after the last unclosed '(' of a line (tabs are 8 wide)."""
    col, stack = 0, []
    for ch in line:
        if ch == "(":
            stack.append(col + 1)
        elif ch == ")" and stack:
            stack.pop()
        col = (col // 8 + 1) * 8 if ch == "\t" else col + 1
    return stack[-1] if stack else None


CONTINUE = "\x1f"  # marks a rendered line still to be aligned (never in a C file)


def mark_continuations(code: str) -> str:
    """A C template line that starts with '~' continues the line above it in the file."""
    return "\n".join(CONTINUE + ln[1:] if ln.startswith("~") else ln for ln in code.split("\n"))


def align_continuations(code: str) -> str:
    """Align every marked line with the open parenthesis of the line above, in tabs then
    spaces, as checkpatch --strict wants.  It runs on the edited file, not the template,
    so a continuation may follow a line the template did not write, and names of any
    length stay aligned."""
    out: list[str] = []
    last: int | None = None  # column of the continuation just placed
    for line in code.split("\n"):
        if line.startswith(CONTINUE) and out:
            column = _open_paren_column(out[-1])
            if column is None:
                column = last  # a further argument line of the same call
            if column is None and out[-1][:1].isspace():
                column = _indent_column(out[-1])  # after an argument line already aligned
            if column is None:
                raise InputError(f"template continuation {line[1:].strip()!r} has no open '('")
            line = "\t" * (column // 8) + " " * (column % 8) + line[1:].lstrip()
            last = column
        else:
            last = None
        out.append(line)
    return "\n".join(out)


class Renderer:
    """Renders NAME with the parameters of one generation run."""

    def __init__(self, params: Mapping[str, Any], user_dir: Path | None = None):
        self.params = dict(params)
        self.env = environment(user_dir)

    def __call__(self, name: str, **extra: Any) -> str:
        import jinja2

        try:
            template = self.env.get_template(name)
            text = str(template.render(**self.params, **extra))
            return mark_continuations(text) if name.endswith(".c.j2") else text
        except jinja2.TemplateNotFound:
            raise InputError(f"template {name} not found") from None
        except jinja2.UndefinedError as exc:
            raise InputError(f"template {name}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(f"template {exc.name or name}:{exc.lineno}: {exc.message}") from None
