"""Command specs: each chat command declared once; help and dispatch are generated from them."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

from bot.chat.context import CommandContext, Reply
from bot.people.permissions import Entry, Permission

# Every word the built-in commands answer to (a custom command may not take one); a test checks it against the
# running bot's registry, so `incident-bot check` can refuse clashes without starting the bot.
BUILTIN_WORDS = frozenset({
    "?", "ack", "acknowledge", "assign", "checklist", "close", "export", "follow", "followup", "help", "link", "new",
    "note", "oncall", "open", "playbooks", "postmortem", "report", "resolve", "roles", "runs", "sev", "severity",
    "snooze", "start", "task", "tasks", "timeline", "unfollow", "update", "why"})

Handler = Callable[[CommandContext, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str
    summary: str
    handler: Handler
    in_incident: bool = False
    aliases: tuple[str, ...] = ()
    permission: Permission | None = None   # who may run it is checked against the config's policy
    allowed: tuple[Entry, ...] = ()        # who may run it, instead of the policy's rule (custom commands)
    details: str = ""                      # more for `help <name>`: its arguments, what it asks first
    custom: bool = False                   # the team's own command (listed apart in help)


class CommandRegistry:
    """The commands the bot understands, looked up by name or alias."""

    def __init__(self, specs: Sequence[CommandSpec]):
        self.specs = tuple(specs)
        self._by_word: dict[str, CommandSpec] = {}
        for spec in self.specs:
            for word in (spec.name, *spec.aliases):
                if word in self._by_word:
                    raise ValueError(f"command word {word!r} is declared twice")
                self._by_word[word] = spec

    def find(self, verb: str) -> CommandSpec | None:
        return self._by_word.get(verb)

    def suggest(self, verb: str) -> str | None:
        """The closest known command word, for 'did you mean'."""
        close = difflib.get_close_matches(verb, list(self._by_word), n=1, cutoff=0.6)
        return close[0] if close else None
