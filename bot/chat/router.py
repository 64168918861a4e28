"""Routes a command to its handler and turns mistakes into short, helpful answers."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence

from bot.chat.actors import ActorLookup
from bot.chat.commands import CommandRegistry, CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments, CommandText
from bot.people.permissions import Rule, check
from bot.templates import Templates

log = logging.getLogger(__name__)


class CommandRouter:
    """Owns the registry of every command (plus `help`, generated from it) and dispatches to them."""

    def __init__(self, specs: Sequence[CommandSpec], templates: Templates, bot_username: str,
                 actors: ActorLookup | None = None):
        self.builtin = [CommandSpec("help", "help [command]", "Show this list, or one command in detail.", self.help,
                                    aliases=("?",)), *specs]
        self.registry = CommandRegistry(self.builtin)
        self.templates = templates
        self.bot_username = bot_username
        self.actors = actors

    def use_custom(self, specs: Sequence[CommandSpec]) -> None:
        """Put the team's own commands (re)loaded from their files next to the built-in ones."""
        self.registry = CommandRegistry([*self.builtin, *specs])

    async def help(self, ctx: CommandContext, args: str) -> list[Reply]:
        """Every command, or one in detail (`help rollback`)."""
        word = args.strip().lower()
        if word:
            spec = self.registry.find(word)
            if spec is None:
                return [Reply(self.templates.render("unknown_command", verb=word[:40], bot=self.bot_username,
                                                    suggestion=self.registry.suggest(word)))]
            return [Reply(self.templates.render("help_command", command=spec, bot=self.bot_username,
                                                who=self._who(spec)))]
        return [Reply(self.templates.render("help", commands=[s for s in self.registry.specs if not s.custom],
                                            custom=[s for s in self.registry.specs if s.custom],
                                            bot=self.bot_username))]

    def _who(self, spec: CommandSpec) -> str:
        """Who may run a command, as config writes it ('' when anyone may)."""
        if spec.permission is None or self.actors is None:
            return ""
        entries = spec.allowed or self.actors.policy.entries(spec.permission)
        return ", ".join(str(entry) for entry in entries)

    async def dispatch(self, ctx: CommandContext, command: CommandText) -> list[Reply]:
        """Run the command and return what to say; never raises for a user's mistake."""
        verb = command.verb or "help"
        spec = self.registry.find(verb)
        if spec is None:
            return [Reply(self.templates.render("unknown_command", verb=verb[:40], bot=self.bot_username,
                                                suggestion=self.registry.suggest(verb)))]
        if spec.in_incident and ctx.incident is None:
            return [Reply(f"`{spec.name}` works in an incident's channel. "
                          f"Open one with `@{self.bot_username} start <title>`, or run it in the incident channel.")]
        if spec.permission is not None and self.actors is not None:
            policy = self.actors.policy
            if spec.allowed:
                policy = replace(policy, rules=(Rule(spec.permission, spec.allowed),))
            actor = await self.actors.actor(ctx, spec.permission, policy)
            decision = check(policy, spec.permission, actor, incident=ctx.incident.key if ctx.incident else "")
            if not decision.allowed:
                return [Reply(f":no_entry_sign: {decision.reason}")]
        try:
            return await spec.handler(ctx, command.args)
        except BadArguments as problem:
            return [Reply(f":warning: {problem}\nUsage: `@{self.bot_username} {spec.usage}`")]
