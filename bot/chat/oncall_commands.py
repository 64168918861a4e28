"""Chat commands for on-call schedules: who is on call, and taking a shift."""
from __future__ import annotations

from bot.alerts.rules import parse_duration
from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.incidents.paging import Paging

LAYER_NAMES = ("Primary", "Secondary")


class OncallCommands:
    def __init__(self, paging: Paging):
        self.paging = paging
        self.specs = [CommandSpec("oncall", "oncall [schedule] | oncall override @user <duration> [schedule]",
                                  "Who is on call now and next; or take a shift.", self.oncall)]

    async def oncall(self, ctx: CommandContext, args: str) -> list[Reply]:
        words = args.split()
        names = sorted(self.paging.schedules)
        if not names:
            return [Reply("There are no on-call schedules: add them under `oncall.schedules` in the config.")]
        if words and words[0] == "override":
            return await self._override(ctx, words[1:], names)
        chosen = words[:1] or names
        unknown = [name for name in chosen if name not in self.paging.schedules]
        if unknown:
            return [Reply(f"There is no schedule `{unknown[0]}`; there are: {', '.join(names)}.")]
        lines = []
        for name in chosen:
            now, upcoming, start = self.paging.describe(name)
            lines.append(f"**{name}**: " + ", ".join(
                f"{LAYER_NAMES[i] if i < len(LAYER_NAMES) else f'Layer {i + 1}'} @{who or 'nobody'}"
                for i, who in enumerate(now)) + f"; next: @{upcoming[0] or 'nobody'} from {start:%Y-%m-%d %H:%M} UTC")
        return [Reply("\n".join(lines))]

    async def _override(self, ctx: CommandContext, words: list[str], names: list[str]) -> list[Reply]:
        if len(words) < 2 or not words[0].startswith("@"):
            raise BadArguments("Say who and for how long, for example `oncall override @bob 2h`.")
        name = words[2] if len(words) > 2 else names[0]
        if name not in self.paging.schedules:
            return [Reply(f"There is no schedule `{name}`; there are: {', '.join(names)}.")]
        try:
            seconds = parse_duration(words[1])
        except ValueError as problem:
            raise BadArguments(f"{problem}.") from None
        username = words[0].lstrip("@").lower()
        end = await self.paging.override(name, username, seconds, ctx.actor_id)
        return [Reply(f":pager: @{username} is on call for **{name}** until {end:%Y-%m-%d %H:%M} UTC.")]
