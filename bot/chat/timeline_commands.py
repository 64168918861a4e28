"""The timeline from chat: show it (filtered, a page at a time) and add notes to it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.alerts.rules import parse_duration
from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.clock import Clock
from bot.store.db import Database
from bot.store.timeline import entries as timeline_entries
from bot.store.timeline import record
from bot.templates import Templates
from bot.users import UserDirectory

PAGE_SIZE = 25
LABELS = {
    "created": "Incident opened", "channel_created": "Channel created", "member_added": "Joined the channel",
    "summary_pinned": "Summary pinned", "role_assigned": "Role", "severity_changed": "Severity",
    "playbook_started": "Playbook started", "acknowledged": "Acknowledged", "status_update": "Status update",
    "resolved": "Resolved", "note": "Note", "highlight": "Highlighted", "paged": "Paged", "escalated": "Escalated",
    "command": "Command", "related_activity": "Related activity", "linked_post": "Linked post",
}
# Words people use for --type, and the timeline kinds they mean
TYPES = {"update": ("status_update",), "note": ("note",), "pin": ("highlight",), "highlight": ("highlight",),
         "alert": ("alert_received", "alert_joined", "alert_repeated", "alert_resolved", "alert_flapped"),
         "step": ("step_done", "step_failed", "step_skipped"), "page": ("paged", "escalated", "page_held"),
         "role": ("role_assigned",), "task": ("task_done", "task_skipped", "task_assigned"),
         "status": ("created", "acknowledged", "resolved", "severity_changed"), "command": ("command",),
         "related": ("related_activity", "linked_post"), "link": ("linked_post",)}


@dataclass(frozen=True)
class TimelineLine:
    at: int
    label: str
    actor: str
    text: str


@dataclass(frozen=True)
class TimelineFilter:
    kinds: tuple[str, ...] = ()
    since_ms: int = 0
    by: str = ""
    page: int = 1


def timeline_filter(args: str, now_ms: int) -> TimelineFilter:
    """Read `--type update --since 2h --by @alice --page 2` (each optional)."""
    options = dict(re.findall(r"--(type|since|by|page)\s+(\S+)", args))
    rest = re.sub(r"--(type|since|by|page)\s+\S+", "", args).strip()
    if rest:
        raise BadArguments(f"I do not understand `{rest[:40]}`.")
    kinds: tuple[str, ...] = ()
    if "type" in options:
        word = options["type"].lower()
        if word not in TYPES:
            raise BadArguments(f"`--type` is one of {', '.join(sorted(TYPES))}.")
        kinds = TYPES[word]
    since = 0
    if "since" in options:
        since = _since(options["since"], now_ms)
    page_text = options.get("page", "1")
    page = int(page_text) if page_text.isdigit() else 0
    if page < 1:
        raise BadArguments("`--page` is a number from 1.")
    return TimelineFilter(kinds, since, options.get("by", "").lstrip("@").lower(), page)


def _since(text: str, now_ms: int) -> int:
    try:
        return now_ms - parse_duration(text) * 1000
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadArguments("`--since` takes a duration like 2h or a date like 2026-11-27.") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp() * 1000)


class TimelineCommands:
    def __init__(self, db: Database, users: UserDirectory, templates: Templates, clock: Clock):
        self.db = db
        self.users = users
        self.templates = templates
        self.clock = clock
        self.specs = [
            CommandSpec("timeline", "timeline [--type update|note|pin|alert|step|page|...] [--since 2h] "
                                    "[--by @user] [--page N]",
                        "Show what happened, who did it and when.", self.timeline, in_incident=True),
            CommandSpec("note", "note <text>", "Add a note to the timeline.", self.note, in_incident=True),
        ]

    async def timeline(self, ctx: CommandContext, args: str) -> list[Reply]:
        wanted = timeline_filter(args, self.clock.now_ms())
        lines = []
        for entry in await timeline_entries(self.db, ctx.incident.id):
            actor = await self.users.username(entry.actor_id)
            if (wanted.kinds and entry.kind not in wanted.kinds) or entry.at < wanted.since_ms or \
                    (wanted.by and actor.lower() != wanted.by):
                continue
            lines.append(TimelineLine(entry.at, LABELS.get(entry.kind, entry.kind.replace("_", " ").capitalize()),
                                      actor, entry.text))
        pages = max(1, -(-len(lines) // PAGE_SIZE))
        if wanted.page > pages:
            return [Reply(f"The timeline has {pages} page(s) with these filters.")]
        shown = lines[(wanted.page - 1) * PAGE_SIZE: wanted.page * PAGE_SIZE]
        return [Reply(self.templates.render("timeline", incident=ctx.incident, entries=shown, page=wanted.page,
                                            pages=pages, total=len(lines)))]

    async def note(self, ctx: CommandContext, args: str) -> list[Reply]:
        if not args:
            raise BadArguments("Write the note after the word, like `note the CDN was also slow`.")
        async with self.db.transaction() as conn:
            await record(conn, ctx.incident.id, "note", at=self.clock.now_ms(), actor_id=ctx.actor_id, text=args,
                         data={"post_id": ctx.post_id})
        return [Reply(f":memo: Noted on {ctx.incident.key}'s timeline.")]
