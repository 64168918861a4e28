"""What the bot has already read: handled post ids and per-channel catch-up cursors."""
from __future__ import annotations

import aiosqlite

from bot.store.db import Database

ANY_CHANNEL = "*"   # the cursor row that holds the newest post seen in any channel


async def mark_handled(conn: aiosqlite.Connection, post_id: str, channel_id: str, at: int) -> bool:
    """Record a post as handled; False when it already was (so it must not be handled again)."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO handled_posts (post_id, channel_id, handled_at) VALUES (?, ?, ?)",
        (post_id, channel_id, at))
    return cursor.rowcount == 1


async def is_handled(db: Database, post_id: str) -> bool:
    return await db.fetch_one("SELECT 1 FROM handled_posts WHERE post_id = ?", (post_id,)) is not None


async def advance_cursor(conn: aiosqlite.Connection, channel_id: str, update_at: int) -> None:
    """Remember that posts of a channel up to `update_at` have been seen."""
    await conn.execute(
        "INSERT INTO channel_cursors (channel_id, last_update_at) VALUES (?, ?) "
        "ON CONFLICT(channel_id) DO UPDATE SET last_update_at = MAX(last_update_at, excluded.last_update_at)",
        (channel_id, update_at))


async def cursors(db: Database) -> dict[str, int]:
    rows = await db.fetch_all("SELECT channel_id, last_update_at FROM channel_cursors")
    return {r["channel_id"]: r["last_update_at"] for r in rows}
