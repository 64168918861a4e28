"""The one error type the Mattermost adapter raises."""
from __future__ import annotations

import json
from typing import Any

CHANNEL_EXISTS = "store.sql_channel.save_channel.exists.app_error"
NO_RESPONSE = 0


class MattermostError(Exception):
    """A failed Mattermost request: an AppError from the server, a 429, or no response at all."""

    # status: the HTTP status, or NO_RESPONSE (0) when the server could not be reached or timed out.
    # after_retry: an earlier attempt of the same call may already have taken effect on the server.

    def __init__(
        self,
        status: int,
        error_id: str,
        message: str,
        request_id: str = "",
        *,
        after_retry: bool = False,
    ) -> None:
        super().__init__(f"{status} {error_id or '-'}: {message}")
        self.status = status
        self.error_id = error_id
        self.message = message
        self.request_id = request_id
        self.after_retry = after_retry

    @property
    def is_rate_limit(self) -> bool:
        """Whether the server refused the request with 429."""
        return self.status == 429

    @property
    def is_server_error(self) -> bool:
        """Whether the failure is on the server's side or the network's (5xx or no response)."""
        return self.status == NO_RESPONSE or self.status >= 500

    @classmethod
    def from_body(cls, status: int, body: str, request_id: str = "") -> "MattermostError":
        """Parse an AppError JSON body; plain text (a 429, a proxy page) becomes the message."""
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls(status, "", body.strip()[:500], request_id)
        return cls(
            status,
            _text(data.get("id")),
            _text(data.get("message")) or body.strip()[:500],
            _text(data.get("request_id")) or request_id,
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
