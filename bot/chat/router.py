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
        self.registry = CommandRegistry([CommandSpec("help", "help", "Show this list.", self.help, aliases=("?",)),
                                         *specs])
        self.templates = templates
        self.bot_username = bot_username
        self.actors = actors

    async def help(self, ctx: CommandContext, args: str) -> list[Reply]:
        return [Reply(self.templates.render("help", commands=self.registry.specs, bot=self.bot_username))]

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
