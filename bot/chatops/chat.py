"""Custom commands as chat commands: one spec each, so help, permissions and `/incident` treat them like the rest;
and `runs`, the audit log of their runs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.chatops.model import Answer, CustomCommand
from bot.chatops.runner import CommandRunner
from bot.people.permissions import Permission
from bot.store import command_runs as runs

RUNS_SHOWN = 20


def custom_specs(runner: CommandRunner) -> list[CommandSpec]:
    """A CommandSpec per configured command, in name order."""
    return [_spec(runner, command) for _, command in sorted(runner.commands.items())]


def _spec(runner: CommandRunner, command: CustomCommand) -> CommandSpec:
    async def handle(ctx: CommandContext, args: str) -> list[Reply]:
        return await runner.run(command, ctx, args)

    return CommandSpec(command.name, command.usage, command.description, handle, in_incident=command.in_incident,
                       permission=Permission.RUN, allowed=command.allowed, details=_details(command), custom=True)


def _details(command: CustomCommand) -> str:
    """The arguments and what happens first, for `help <name>`."""
    lines = []
    for arg in command.args:
        kind = "one of " + ", ".join(arg.choices) if arg.choices else arg.type.value
        default = "" if arg.required or arg.default is None else f", default {_shown(arg.default)}"
        lines.append(f"- `{arg.name}` ({kind}{default}){': ' + arg.help if arg.help else ''}")
    if command.confirm:
        lines.append("It asks for confirmation (buttons) before it runs.")
    if command.answer is Answer.EPHEMERAL:
        lines.append("Only you see its answer.")
    if command.on_resolve is not None:
        lines.append("It is undone when the incident resolves.")
    return "\n".join(lines)


def runs_spec(runner: CommandRunner) -> CommandSpec:
    """`runs`: the audit log of custom command runs."""
    async def handle(ctx: CommandContext, args: str) -> list[Reply]:
        everywhere = args.strip().lower() == "all"
        if args.strip() and not everywhere:
            raise BadArguments("`runs` lists this channel's command runs; `runs all` lists everyone's (admins).")
        if everywhere and not await runner.users.is_admin(ctx.actor_id):
            return [Reply(":no_entry_sign: Only system admins may list the command runs of every channel.")]
        incident = ctx.incident if ctx.incident and ctx.incident.channel_id == ctx.channel_id else None
        found = await runs.recent(runner.db, incident_id=incident.id if incident else None,
                                  channel_id=None if everywhere or incident else ctx.channel_id, limit=RUNS_SHOWN)
        if not found:
            return [Reply("No custom commands have run here yet.")]
        lines = ["| # | when (UTC) | who | command | outcome |", "|--:|---|---|---|---|"]
        for run in found:
            when = datetime.fromtimestamp(run.created_at / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            who = f"@{await runner.users.username(run.actor_id)}"
            if run.confirmed_by and run.confirmed_by != run.actor_id:
                who += f" (confirmed by @{await runner.users.username(run.confirmed_by)})"
            command = f"{run.command} {run.args_text}".strip().replace("|", "\\|").replace("`", "'")
            outcome = f"{run.status.replace('_', ' ')}: {run.summary}".rstrip(": ").replace("|", "\\|")
            lines.append(f"| {run.id} | {when} | {who} | `{command[:80]}` | {outcome[:120]} |")
        return [Reply("\n".join(lines))]

    return CommandSpec("runs", "runs [all]", "List the latest custom command runs here: who, when, what, outcome.",
                       handle)


def _shown(value: object) -> str:
    """A default as the command line would take it: 4h rather than 4:00:00."""
    if not isinstance(value, timedelta):
        return str(value)
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
