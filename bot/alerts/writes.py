"""What deciding about alerts leaves to save: alerts noted on incidents, what was made of each post, timers.

Decisions collect their writes here instead of writing at once, so a whole batch of alerts is saved in
one transaction: a post's explanation (which marks it handled) is committed together with its notes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.alerts.model import Alert
from bot.store import alerts as alert_store
from bot.store.alerts import AlertNote, PostExplanation
from bot.store.db import Database


@dataclass
class AlertWrites:
    """The rows one piece of work (or a batch of them) will write."""

    notes: list[AlertNote] = field(default_factory=list)
    explanations: list[PostExplanation] = field(default_factory=list)
    timers: dict[str, tuple[Alert, int]] = field(default_factory=dict)   # fingerprint -> (alert, due at ms)

    def __bool__(self) -> bool:
        return bool(self.notes or self.explanations or self.timers)

    def add(self, other: AlertWrites) -> None:
        """Take in another piece of work's writes, after this one's."""
        self.notes.extend(other.notes)
        self.explanations.extend(other.explanations)
        self.timers.update(other.timers)

    async def save(self, db: Database, now_ms: int) -> None:
        """Write everything in one transaction."""
        if not self:
            return
        async with db.transaction() as conn:
            await alert_store.note_alerts(conn, self.notes, now_ms)
            await alert_store.explain_posts(conn, self.explanations, now_ms)
            if self.timers:
                await alert_store.set_timers(conn, self.timers.values())
