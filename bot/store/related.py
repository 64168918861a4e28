"""Related activity: items (posts, alerts) noted on open incidents, waiting for or included in a digest."""
from __future__ import annotations

import aiosqlite

from bot.incidents.funnel import Candidate, RelatedItem, incident_labels
from bot.incidents.model import Status
from bot.store.db import Database


async def open_incidents(db: Database) -> list[Candidate]:
    """Incidents that are not resolved and were opened by an alert (those have labels to relate by)."""
    rows = await db.fetch_all("SELECT id, channel_id, alert FROM incidents WHERE status != ? AND alert != ''",
                              (Status.RESOLVED.value,))
    return [Candidate(r["id"], r["channel_id"], incident_labels(r["alert"])) for r in rows]


async def add_item(conn: aiosqlite.Connection, incident_id: int, item: RelatedItem, noted_at: int) -> bool:
    """Note an item on an incident; False when it was noted already (a catch-up re-read, a restart)."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO related_items (incident_id, item_key, rule, post_id, channel_id, channel_name, "
        "author, excerpt, permalink, created_at, noted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (incident_id, item.key, item.rule, item.post_id, item.channel_id, item.channel_name, item.author,
         item.excerpt, item.permalink, item.at, noted_at))
    return cursor.rowcount == 1


async def pending_incidents(db: Database) -> dict[int, int]:
    """Incidents with items not digested yet, and when the first of those was noted."""
    rows = await db.fetch_all("SELECT incident_id, MIN(noted_at) AS first FROM related_items WHERE digested = 0 "
                              "GROUP BY incident_id")
    return {r["incident_id"]: r["first"] for r in rows}


async def pending_items(db: Database, incident_id: int) -> list[tuple[int, RelatedItem]]:
    """An incident's undigested items with their row ids, oldest first."""
    rows = await db.fetch_all("SELECT * FROM related_items WHERE incident_id = ? AND digested = 0 "
                              "ORDER BY created_at, id", (incident_id,))
    return [(r["id"], RelatedItem(key=r["item_key"], rule=r["rule"], at=r["created_at"], author=r["author"],
                                  excerpt=r["excerpt"], channel_name=r["channel_name"], post_id=r["post_id"],
                                  channel_id=r["channel_id"], permalink=r["permalink"])) for r in rows]


async def mark_digested(conn: aiosqlite.Connection, row_ids: list[int]) -> None:
    await conn.executemany("UPDATE related_items SET digested = 1 WHERE id = ?", [(i,) for i in row_ids])
