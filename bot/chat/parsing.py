"""Reading commands out of chat messages: the mention, the verb, the arguments."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.incidents.model import Severity

MAX_TITLE_LENGTH = 200


@dataclass(frozen=True)
class CommandText:
    """A message addressed to the bot: its first word (lower-cased) and the rest."""

    verb: str
    args: str


class BadArguments(Exception):
    """The arguments do not fit the command; the message says what was expected."""


def command_text(message: str, bot_username: str, is_direct: bool) -> CommandText | None:
    """The command in a message, or None if the message is not addressed to the bot.

    In a channel the message must start with @bot; in a direct message any text is a command.
    """
    text = message.strip()
    mention = re.match(rf"@{re.escape(bot_username)}(?![\w.-])[:,]?\s*", text, flags=re.IGNORECASE)
    if mention:
        text = text[mention.end():]
    elif not is_direct:
        return None
    verb, _, rest = text.partition(" ")
    first_line_verb = verb.split("\n", 1)[0]
    if first_line_verb != verb:
        rest = verb[len(first_line_verb):] + " " + rest
        verb = first_line_verb
    return CommandText(verb.strip().lower(), rest.strip())


def start_arguments(args: str, default: Severity) -> tuple[str, Severity]:
    """Split `start` arguments into a title and a severity (a sevN word at either end)."""
    words = args.split()
    severity = default
    if words and Severity.parse(words[-1]) and words[-1].lower().startswith("sev"):
        severity = Severity.parse(words.pop())
    elif words and Severity.parse(words[0]) and words[0].lower().startswith("sev"):
        severity = Severity.parse(words.pop(0))
    title = " ".join(words)
    if not title:
        raise BadArguments("Give the incident a title, for example `start Checkout errors sev2`.")
    if len(title) > MAX_TITLE_LENGTH:
        raise BadArguments(f"The title is {len(title)} characters long; keep it under {MAX_TITLE_LENGTH}.")
    return title, severity


def playbook_option(args: str) -> tuple[str, str]:
    """Take `--playbook NAME` (or `--playbook=NAME`) out of the arguments: (the rest, NAME or "")."""
    match = re.search(r"(?:^|\s)--playbook(?:=|\s+)(\S+)", args)
    if not match:
        if re.search(r"(?:^|\s)--playbook\s*$", args):
            raise BadArguments("Name the playbook after `--playbook`; `playbooks` lists them.")
        return args, ""
    return (args[:match.start()] + " " + args[match.end():]).strip(), match.group(1)
