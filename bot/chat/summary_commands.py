"""Chat commands for the record of an incident: postmortem, followup, export."""
from __future__ import annotations

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.incidents.postmortem import Postmortems


class SummaryCommands:
    def __init__(self, postmortems: Postmortems, chat, exporter=None):
        self.postmortems = postmortems
        self.chat = chat
        self.exporter = exporter
        self.specs = [
            CommandSpec("postmortem", "postmortem", "Draft the post-mortem from the timeline (also done on resolve).",
                        self.postmortem, in_incident=True),
            CommandSpec("followup", "followup <text> [@owner]", "Record a follow-up action for the post-mortem.",
                        self.followup, in_incident=True),
        ]
        if exporter is not None:
            self.specs.append(CommandSpec("export", "export [md|json|csv]",
                                          "The incident and its channel's history as a file, secrets redacted.",
                                          self.export, in_incident=True))

    async def postmortem(self, ctx: CommandContext, args: str) -> list[Reply]:
        await self.postmortems.draft(ctx.incident, ctx.actor_id)
        return []   # the draft itself is the answer

    async def followup(self, ctx: CommandContext, args: str) -> list[Reply]:
        words = args.split()
        owner_id = ""
        if words and words[-1].startswith("@"):
            owner = await self.chat.get_user_by_username(words[-1][1:].lower())
            if owner is None:
                return [Reply(f"There is no user {words[-1]}.")]
            owner_id, words = owner["id"], words[:-1]
        if not words:
            raise BadArguments("Say what should be done, for example `followup add an alert on queue depth @bob`.")
        followup = await self.postmortems.add_followup(ctx.incident, " ".join(words), owner_id, ctx.actor_id)
        owner = f" for @{followup.owner}" if followup.owner else ""
        ticket = f" Ticket: {followup.ticket}." if followup.ticket else ""
        return [Reply(f":ballot_box_with_check: Follow-up {followup.id} recorded{owner}.{ticket}")]

    async def export(self, ctx: CommandContext, args: str) -> list[Reply]:
        fmt = (args.strip() or "md").lower()
        if fmt not in ("md", "json", "csv"):
            raise BadArguments("The format is md, json or csv.")
        name, data, redactions = await self.exporter(ctx.incident, fmt)
        note = f" ({redactions} redaction(s))" if redactions else ""
        return [Reply(f":package: {ctx.incident.key} exported as {fmt}{note}.", files=((name, data),))]
