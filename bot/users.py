"""User names by id, looked up once over REST and cached."""
from __future__ import annotations

from typing import Any, Awaitable, Callable


class UserDirectory:
    def __init__(self, get_user: Callable[[str], Awaitable[dict[str, Any] | None]]):
        self._get_user = get_user
        self._names: dict[str, str] = {}
        self._admins: dict[str, bool] = {}

    async def username(self, user_id: str) -> str:
        """The username for an id ('unknown' when Mattermost does not know it)."""
        if not user_id:
            return "incident-bot"
        if user_id not in self._names:
            user = await self._get_user(user_id)
            self._names[user_id] = (user or {}).get("username") or "unknown"
        return self._names[user_id]

    async def is_admin(self, user_id: str) -> bool:
        """Whether the user is a system admin (looked up once)."""
        if user_id not in self._admins:
            user = await self._get_user(user_id) or {}
            self._admins[user_id] = "system_admin" in str(user.get("roles", "")).split()
            if user.get("username"):
                self._names[user_id] = user["username"]
        return self._admins[user_id]

    def remember(self, user_id: str, username: str) -> None:
        if user_id and username:
            self._names[user_id] = username
