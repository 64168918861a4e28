"""User names by id, looked up once over REST and cached."""
from __future__ import annotations

from typing import Any, Awaitable, Callable


class UserDirectory:
    def __init__(self, get_user: Callable[[str], Awaitable[dict[str, Any] | None]]):
        self._get_user = get_user
        self._names: dict[str, str] = {}

    async def username(self, user_id: str) -> str:
        """The username for an id ('unknown' when Mattermost does not know it)."""
        if not user_id:
            return "incident-bot"
        if user_id not in self._names:
            user = await self._get_user(user_id)
            self._names[user_id] = (user or {}).get("username") or "unknown"
        return self._names[user_id]

    def remember(self, user_id: str, username: str) -> None:
        if user_id and username:
            self._names[user_id] = username
