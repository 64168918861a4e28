"""Chat commands about alerts: `why`."""
from __future__ import annotations

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.store import alerts as alert_store
from bot.store.db import Database
from bot.templates import Templates


class AlertCommands:
    def __init__(self, db: Database, templates: Templates):
        self.db = db
        self.templates = templates
        self.specs = [CommandSpec("why", "why", "In an alert's thread: how I read the alert and what I did with it.",
                                  self.why)]

    async def why(self, ctx: CommandContext, args: str) -> list[Reply]:
        versions = await alert_store.explanations(self.db, ctx.thread_id)
        return [Reply(self.templates.render("why", versions=versions))]
