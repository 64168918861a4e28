"""REST routes: user statuses (api4/status.go)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_body_param, permission_denied
from .http_util import caller, json_body, json_response, path_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

UID = "{user_id:[A-Za-z0-9]+}"
STATUS_FIELDS = {"user_id": str, "status": str, "manual": bool, "last_activity_at": int, "dnd_end_time": int,
                 "active_channel": str}


def _decodes_as_status(body: object) -> bool:
    """Tell whether Go would decode body into model.Status (an object whose known fields have their types)."""
    if not isinstance(body, dict):
        return False
    for key, kind in STATUS_FIELDS.items():
        value = body.get(key)
        if value is None:
            continue
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return False
        if not isinstance(value, kind):
            return False
    return True


class StatusRoutes:
    """GET/PUT /users/{id}/status and POST /users/status/ids."""

    def __init__(self, core: Core):
        self.core = core
        self.statuses = core.statuses

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root (status/ids before the {user_id} routes)."""
        router.add_post(api + "/users/status/ids", self.by_ids)
        router.add_get(api + f"/users/{UID}/status", self.get)
        router.add_put(api + f"/users/{UID}/status", self.update)

    async def get(self, request: web.Request) -> web.Response:
        """Return a user's status; any well-formed id answers (an unknown user is "offline")."""
        caller(request)
        return json_response(self.statuses.get(path_id(request, "user_id", allow_me=True)))

    async def by_ids(self, request: web.Request) -> web.Response:
        """Return the statuses of a list of ids (sorted and de-duplicated, as SortedArrayFromJSON does)."""
        caller(request)
        body = await json_body(request, "user_ids")
        if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
            raise AppError(400, "api.payload.parse_error", "Error parsing the request payload.")
        ids = sorted(set(body))
        if not ids or any(len(i) != 26 for i in ids):
            raise invalid_body_param("user_ids")
        return json_response(self.statuses.by_ids(ids))

    async def update(self, request: web.Request) -> web.Response:
        """Set a status by hand: the user themself, or edit_other_users (system admins)."""
        actor = caller(request)
        user_id = path_id(request, "user_id", allow_me=True)
        body = await json_body(request, "status")
        if not _decodes_as_status(body):
            raise invalid_body_param("status")
        if body.get("user_id") != user_id:
            raise invalid_body_param("user_id")
        if actor["id"] != user_id and not self.core.state.is_admin(actor):
            raise permission_denied()
        status = body.get("status")
        if status not in ("online", "away", "dnd", "offline"):
            raise invalid_body_param("status")
        return json_response(self.statuses.set(user_id, status, int(body.get("dnd_end_time") or 0)))
