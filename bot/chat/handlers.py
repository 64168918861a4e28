"""The chat commands of the incident lifecycle: start, ack, update, resolve, timeline, help."""
from __future__ import annotations

from typing import Callable

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments, playbook_option, start_arguments
from bot.incidents.model import Action, Severity, TransitionRefused
from bot.incidents.service import IncidentService, UsernameLookup
from bot.people.permissions import Permission
from bot.templates import Templates

class LifecycleCommands:
    """Handlers for the lifecycle verbs; each returns what to say."""

    def __init__(self, incidents: IncidentService, users: UsernameLookup, templates: Templates, *,
                 bot_username: str, default_severity: Severity,
                 choose_playbook: Callable[..., str] = lambda requested, **_: ""):
        self.incidents = incidents
        self.users = users
        self.templates = templates
        self.bot_username = bot_username
        self.default_severity = default_severity
        self.choose_playbook = choose_playbook
        self.specs = [
            CommandSpec("start", "start <title> [sev1..sev4] [--playbook NAME]",
                        "Open an incident with its own channel (default severity "
                        f"{default_severity.label}).", self.start, aliases=("new", "open"),
                        permission=Permission.START),
            CommandSpec("ack", "ack", "Acknowledge the incident: you are on it.", self.ack, in_incident=True,
                        aliases=("acknowledge",), permission=Permission.ACK),
            CommandSpec("update", "update <text>", "Post a status update.", self.update, in_incident=True,
                        permission=Permission.UPDATE),
            CommandSpec("resolve", "resolve <text>", "Resolve the incident, saying how.", self.resolve,
                        in_incident=True, aliases=("close",), permission=Permission.RESOLVE),
        ]

    async def start(self, ctx: CommandContext, args: str) -> list[Reply]:
        args, requested = playbook_option(args)
        title, severity = start_arguments(args, self.default_severity)
        try:
            playbook = self.choose_playbook(requested, severity=severity)
        except LookupError as unknown:
            return [Reply(f":warning: {unknown}")]
        await self.incidents.start(title=title, severity=severity, reporter_id=ctx.actor_id,
                                   origin_channel_id=ctx.channel_id, origin_post_id=ctx.post_id, playbook=playbook)
        return []  # the service replies with the link as part of the setup, so it is never posted twice

    async def ack(self, ctx: CommandContext, args: str) -> list[Reply]:
        return await self._change(ctx, Action.ACKNOWLEDGE, args, "acknowledged")

    async def update(self, ctx: CommandContext, args: str) -> list[Reply]:
        if not args:
            raise BadArguments("Say what changed, for example `update Rolled back the deploy, errors dropping`.")
        return await self._change(ctx, Action.UPDATE, args, "status_update")

    async def resolve(self, ctx: CommandContext, args: str) -> list[Reply]:
        return await self._change(ctx, Action.RESOLVE, args, "resolved")

    async def _change(self, ctx: CommandContext, action: Action, text: str, template: str) -> list[Reply]:
        try:
            changed = await self.incidents.change(ctx.incident, action, actor_id=ctx.actor_id, text=text,
                                                  post_id=ctx.post_id, channel_id=ctx.channel_id)
        except TransitionRefused as refusal:
            return [Reply(f":no_entry_sign: {refusal}")]
        if changed is None:
            return []
        return [Reply(self.templates.render(template, incident=changed, actor=ctx.actor_username, text=text),
                      in_thread=False)]
