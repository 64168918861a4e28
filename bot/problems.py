"""Problems found in a user's file (config, rules, playbooks): each names the file, line, column and key."""
from __future__ import annotations

from dataclasses import dataclass

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
