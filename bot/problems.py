"""Problems found in a user's file (config, rules, playbooks): each names the file, line, column and key."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Sequence

from bot.yamlsource import Location


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file."""

    location: Location
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.key}: {self.message}" if self.key else f"{self.location}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason, each with file, line and key."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def kind_of(value: Any) -> str:
    """How a wrong value is named in a message: 'a mapping', 'a list', 'empty'..."""
    names = {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "empty", int: "a number",
             float: "a number", str: "a string"}
    return names.get(type(value), type(value).__name__)


def did_you_mean(word: Any, choices: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for a close choice (ignoring case), else ''."""
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def dotted(path: tuple) -> str:
    """steps[0].post.message for ('steps', 0, 'post', 'message')."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def non_empty_text(value: Any) -> str:
    """A non-empty string (numbers are read as their digits); raises ValueError saying what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be a string, not {kind_of(value)}")
    result = str(value).strip()
    if not result:
        raise ValueError("must not be empty")
    return result
