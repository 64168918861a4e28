"""AppError: the JSON error body every Mattermost REST error carries."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error answered as Mattermost's AppError JSON with an HTTP status."""

    def __init__(self, status: int, error_id: str, message: str, detailed_error: str = ""):
        super().__init__(f"{status} {error_id}: {message}")
        self.status = status
        self.error_id = error_id
        self.message = message
        self.detailed_error = detailed_error

    def to_json(self, request_id: str = "") -> dict:
        """Return the AppError body as the server serialises it."""
        body = {"id": self.error_id, "message": self.message, "detailed_error": self.detailed_error,
                "request_id": request_id, "status_code": self.status}
        if not request_id:
            del body["request_id"]
        return body


def session_expired() -> AppError:
    """Return the 401 for a missing, invalid or expired token."""
    return AppError(401, "api.context.session_expired.app_error",
                    "Invalid or expired session, please login again.")


def permission_denied() -> AppError:
    """Return the 403 for a caller without the needed permission."""
    return AppError(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")


def invalid_body_param(name: str) -> AppError:
    """Return the 400 for a missing or malformed request-body field."""
    return AppError(400, "api.context.invalid_body_param.app_error", f"Invalid or missing {name} in request body.")


def invalid_url_param(name: str) -> AppError:
    """Return the 400 for a malformed URL parameter."""
    return AppError(400, "api.context.invalid_url_param.app_error",
                    f"Invalid or missing {name} parameter in request URL.")


def route_not_found() -> AppError:
    """Return the 404 for a path that matches no route."""
    return AppError(404, "api.context.404.app_error", "Sorry, we could not find the page.")


def internal_error(detail: str = "") -> AppError:
    """Return a 500 for an unexpected failure."""
    return AppError(500, "api.context.internal_error.app_error", "An internal error occurred.", detail)
