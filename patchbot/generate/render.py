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


def align_continuations(code: str) -> str:
    """A C template line that starts with '~' continues the line above: align it with
    the open parenthesis, in tabs then spaces, as checkpatch --strict wants.  Doing it
    after rendering keeps the alignment right whatever length the names have."""
    out: list[str] = []
    for line in code.split("\n"):
        if line.startswith("~") and out:
            column = _open_paren_column(out[-1])
            if column is None:
                raise InputError(f"template continuation {line[1:].strip()!r} has no open '('")
            line = "\t" * (column // 8) + " " * (column % 8) + line[1:].lstrip()
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
            return align_continuations(text) if name.endswith(".c.j2") else text
        except jinja2.TemplateNotFound:
            raise InputError(f"template {name} not found") from None
        except jinja2.UndefinedError as exc:
            raise InputError(f"template {name}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(f"template {exc.name or name}:{exc.lineno}: {exc.message}") from None
