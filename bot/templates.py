"""Every message the bot posts is a Jinja2 template, rendered in a sandbox with strict undefined."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from bot.clock import format_duration, format_time

TEMPLATE_DIR = Path(__file__).parent / "templates"


class Templates:
    """Render the bot's message templates by name (e.g. 'header' -> templates/header.md.j2)."""

    def __init__(self, directory: Path = TEMPLATE_DIR):
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["time"] = format_time
        self.env.filters["duration"] = format_duration

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(f"{name}.md.j2").render(**context).strip()

    def render_string(self, source: str, **context: Any) -> str:
        """Render a template someone wrote (a playbook's), with the same filters and sandbox."""
        return self.env.from_string(source).render(**context).strip()
