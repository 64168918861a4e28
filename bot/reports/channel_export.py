"""Exporting an incident: the incident, its timeline and the channel's whole history (paged through the
API), redacted, written by a streaming writer so a long channel never sits in memory at once."""
from __future__ import annotations

import asyncio
import io
import queue
from typing import Any, Iterator

from bot.incidents.model import Incident
from bot.reports.export import ExportMessage, write_csv, write_json, write_markdown
from bot.reports.redaction import Redactor
from bot.store.db import Database
from bot.store.timeline import entries as timeline_entries
from bot.users import UserDirectory

WRITERS = {"md": write_markdown, "json": write_json, "csv": write_csv}
BACKLOG = 1000       # messages fetched ahead of the writer, at most
_DONE = object()


class IncidentExporter:
    def __init__(self, db: Database, chat, users: UserDirectory, redactor: Redactor):
        self.db = db
        self.chat = chat
        self.users = users
        self.redactor = redactor

    async def __call__(self, incident: Incident, fmt: str) -> tuple[str, bytes, int]:
        """The export as (file name, content, redactions made)."""
        out = io.StringIO(newline="" if fmt == "csv" else None)
        report = await self.write(incident, fmt, out)
        return f"{incident.key}.{fmt}", out.getvalue().encode(), sum(report.as_dict()["by_rule"].values())

    async def write(self, incident: Incident, fmt: str, out) -> Any:
        """Write the export to `out` as messages arrive; returns the writer's redaction report."""
        timeline = await timeline_entries(self.db, incident.id)
        usernames = {entry.actor_id: await self.users.username(entry.actor_id) for entry in timeline}
        pipe: queue.Queue = queue.Queue(maxsize=BACKLOG)
        writer = asyncio.to_thread(WRITERS[fmt], out, incident, timeline, _drain(pipe), self.redactor,
                                   usernames=usernames)
        written = asyncio.ensure_future(writer)
        try:
            async for message in self.messages(incident):
                while True:   # hand over without blocking the event loop while the writer catches up
                    try:
                        pipe.put_nowait(message)
                        break
                    except queue.Full:
                        if written.done():
                            return written.result()
                        await asyncio.sleep(0.01)
        finally:
            await asyncio.to_thread(pipe.put, _DONE)
        return await written

    async def messages(self, incident: Incident):
        """Every post of the incident channel, oldest first, from the summary post on, a page at a time."""
        first = await self.chat.get_post_data(incident.header_post_id) if incident.header_post_id else None
        if first is None:
            return
        yield await self._message(first)
        after = first["id"]
        while True:
            page = await self.chat.posts_after(incident.channel_id, after)
            if not page:
                return
            for post in page:
                yield await self._message(post)
            after = page[-1]["id"]

    async def _message(self, post: dict[str, Any]) -> ExportMessage:
        metadata = post.get("metadata") if isinstance(post.get("metadata"), dict) else {}
        reactions = []
        for reaction in metadata.get("reactions") or []:
            if isinstance(reaction, dict):
                reactions.append((reaction.get("emoji_name", ""), await self.users.username(reaction.get("user_id", ""))))
        files = tuple(f.get("name", "") for f in metadata.get("files") or [] if isinstance(f, dict))
        return ExportMessage(id=post.get("id", ""), create_at=post.get("create_at", 0), edit_at=post.get("edit_at", 0),
                             user=await self.users.username(post.get("user_id", "")), message=post.get("message", ""),
                             root_id=post.get("root_id", ""), is_pinned=post.get("is_pinned") is True,
                             reactions=tuple(reactions), file_names=files)


def _drain(pipe: queue.Queue) -> Iterator[ExportMessage]:
    """The writer thread's view of the messages: it waits for each one."""
    while True:
        item = pipe.get()
        if item is _DONE:
            return
        yield item
