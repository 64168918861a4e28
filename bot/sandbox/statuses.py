"""User statuses: derived from websocket presence, or set by hand, as platform/status.go keeps them."""
from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING

from .events import Event
from .ids import now_ms
from .models import status_json

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

SETTABLE = ("online", "away", "dnd", "offline")
DND_EXPIRY_SECONDS = 60   # model.DNDExpiryInterval: dnd_end_time is truncated to the minute


class Statuses:
    """Keep one Status per user once recorded; users never seen are "offline" (GetUserStatusesByIds)."""

    def __init__(self, core: Core):
        self.core = core
        self.records = core.state.statuses

    def get(self, user_id: str) -> dict:
        """Return the user's Status; an unknown id is offline, as the real server answers it."""
        record = self.records.get(user_id)
        return copy.deepcopy(record) if record else status_json(user_id)

    def by_ids(self, user_ids: list[str]) -> list[dict]:
        """Return Statuses for the ids: the recorded ones first, then "offline" for the rest."""
        known = [self.get(uid) for uid in user_ids if uid in self.records]
        return known + [status_json(uid) for uid in user_ids if uid not in self.records]

    # ---------------------------------------------------------------- presence (automatic, never broadcast here)
    def connected(self, user_id: str) -> None:
        """A websocket attached: SetStatusOnline(manual=False), which a manual status overrides."""
        record = self.records.get(user_id)
        if record and record["manual"]:
            return
        self.records[user_id] = status_json(user_id, "online", last_activity_at=now_ms())

    def disconnected(self, user_id: str) -> None:
        """A websocket ended: with none left live, go offline unless the status was set by hand."""
        if user_id in self.core.hub.online_user_ids():
            return
        record = self.records.get(user_id)
        if record is None or record["manual"]:
            return
        self.records[user_id] = status_json(user_id, "offline", last_activity_at=now_ms())

    # ---------------------------------------------------------------- manual (PUT /users/{id}/status)
    def set(self, user_id: str, status: str, dnd_end_time: int = 0) -> dict:
        """Set a status by hand, with updateUserStatus's semantics, and broadcast status_change to the user.

        "online" returns the user to automatic updates (manual false); "away", "dnd" and "offline" stick.
        """
        if status not in SETTABLE:
            raise ValueError(f"not a settable status: {status!r}")
        old = self.records.get(user_id)
        now = now_ms()
        if status == "online":
            record = status_json(user_id, "online", last_activity_at=now)
            broadcast = old is None or old["status"] != "online"
        elif status == "offline":
            record = status_json(user_id, "offline", manual=True, last_activity_at=now)
            broadcast = True
        elif status == "away":
            record = status_json(user_id, "away", manual=True,
                                 last_activity_at=old["last_activity_at"] if old else 0,
                                 dnd_end_time=old["dnd_end_time"] if old else 0)
            broadcast = True
        else:
            end = dnd_end_time - dnd_end_time % DND_EXPIRY_SECONDS if dnd_end_time > 0 else 0
            record = status_json(user_id, "dnd", manual=True,
                                 last_activity_at=old["last_activity_at"] if old else 0, dnd_end_time=end)
            broadcast = True
        self.records[user_id] = record
        if broadcast:
            self.core.hub.publish(Event("status_change", {"status": record["status"], "user_id": user_id},
                                        user_id=user_id))
        return self.get(user_id)
