"""Chat commands about keeping people informed: snooze, follow, unfollow."""
from __future__ import annotations

from bot.alerts.rules import parse_duration
from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.clock import format_duration, format_time
from bot.incidents.updates import StatusUpdates


class UpdateCommands:
    def __init__(self, updates: StatusUpdates):
        self.updates = updates
        self.specs = [
            CommandSpec("snooze", "snooze <duration>", "Put off the next status-update reminder (like 30m).",
                        self.snooze, in_incident=True),
            CommandSpec("follow", "follow", "Get the incident's status updates as direct messages.", self.follow,
                        in_incident=True),
            CommandSpec("unfollow", "unfollow", "Stop getting them.", self.unfollow, in_incident=True),
        ]

    async def snooze(self, ctx: CommandContext, args: str) -> list[Reply]:
        try:
            seconds = parse_duration(args.strip() or "30m")
        except ValueError as problem:
            raise BadArguments(f"Say for how long, like `snooze 30m` ({problem}).") from None
        due = await self.updates.snooze(ctx.incident, seconds, ctx.actor_id)
        return [Reply(f":zzz: The next status-update reminder for {ctx.incident.key} comes in "
                      f"{format_duration(seconds * 1000)} ({format_time(due)}).")]

    async def follow(self, ctx: CommandContext, args: str) -> list[Reply]:
        changed = await self.updates.follow(ctx.incident, ctx.actor_id, True)
        return [Reply(f"You will get {ctx.incident.key}'s status updates as direct messages." if changed
                      else f"You already follow {ctx.incident.key}.")]

    async def unfollow(self, ctx: CommandContext, args: str) -> list[Reply]:
        changed = await self.updates.follow(ctx.incident, ctx.actor_id, False)
        return [Reply(f"You no longer follow {ctx.incident.key}." if changed
                      else f"You were not following {ctx.incident.key}.")]
