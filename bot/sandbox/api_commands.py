"""REST routes for custom slash commands: /api/v4/commands[/{id}], /commands/execute and /hooks/commands/{id}.

Follows api4/command.go of server 11.6; the sandbox's manage_slash_commands holders (system and team admins)
also hold manage_others_slash_commands, so the creator makes no difference here.
"""
from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .commands import command_fields, response_from_body
from .errors import AppError, invalid_body_param, permission_denied
from .http_util import OK, caller, json_object, json_response, path_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

CID = "{command_id:[A-Za-z0-9]+}"


def parse_bool(value: str) -> bool:
    """strconv.ParseBool as listCommands uses it: the true spellings, anything else false."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


class CommandRoutes:
    """Command management, execution, and delayed answers on response_url."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes."""
        router.add_post(api + "/commands", self.create)
        router.add_get(api + "/commands", self.list_commands)
        router.add_post(api + "/commands/execute", self.execute)
        router.add_get(api + f"/commands/{CID}", self.get)
        router.add_put(api + f"/commands/{CID}", self.update)
        router.add_delete(api + f"/commands/{CID}", self.delete)
        router.add_post("/hooks/commands/{hook_id:[A-Za-z0-9]+}", self.webhook)

    async def create(self, request: web.Request) -> web.Response:
        """Create a custom command: 201 Command."""
        user = caller(request)
        body = await json_object(request, "command")
        team_id = command_fields(body)["team_id"]
        if not self.core.commands.may_manage(user, team_id):
            raise permission_denied()
        return json_response(self.core.commands.create(body, user["id"]), 201)

    async def list_commands(self, request: web.Request) -> web.Response:
        """custom_only=true: the team's commands (manage_slash_commands); else the autocompleting ones, sanitized."""
        user = caller(request)
        team_id = request.query.get("team_id", "")
        if not team_id:
            raise invalid_body_param("team_id")   # c.SetInvalidParam, which names the body
        if not (self.state.is_admin(user) or self.state.is_team_member(team_id, user["id"])):
            raise permission_denied()
        commands = self.core.commands
        if parse_bool(request.query.get("custom_only", "")):
            if not commands.may_manage(user, team_id):
                raise permission_denied()
            return json_response(copy.deepcopy(commands.team_commands(team_id)))
        out = []
        for cmd in commands.team_commands(team_id):
            if cmd["auto_complete"]:
                out.append({**cmd, "token": "", "creator_id": "", "method": "", "url": "", "username": "",
                            "icon_url": ""})
        return json_response(out)

    async def get(self, request: web.Request) -> web.Response:
        """Get a command (404 for one the caller may not manage)."""
        user = caller(request)
        return json_response(self.core.commands.get(user, path_id(request, "command_id")))

    async def update(self, request: web.Request) -> web.Response:
        """Replace a command with the Command in the body (same id and team): 200 Command."""
        user = caller(request)
        command_id = path_id(request, "command_id")
        body = await json_object(request, "command")
        return json_response(self.core.commands.update(user, command_id, body))

    async def delete(self, request: web.Request) -> web.Response:
        """Delete a command."""
        user = caller(request)
        self.core.commands.delete(user, path_id(request, "command_id"))
        return json_response(OK)

    async def execute(self, request: web.Request) -> web.Response:
        """Run a command: 200 CommandResponse."""
        user = caller(request)
        body = await json_object(request, "command_args")

        def text(key: str) -> str:
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                raise invalid_body_param("command_args")
            return value or ""
        response = await self.core.commands.execute(user, text("channel_id"), text("command"),
                                                    team_id=text("team_id"), root_id=text("root_id"))
        return json_response(response)

    async def webhook(self, request: web.Request) -> web.Response:
        """A delayed answer on response_url: `ok` as text/plain."""
        body = await request.read()
        content_type = request.headers.get("Content-Type", "")
        response = response_from_body(content_type, body)
        if response is None:
            raise AppError(400, "web.command_webhook.parse.app_error", "Unable to parse incoming data.")
        self.core.commands.webhook(request.match_info["hook_id"], response)
        return web.Response(text="ok", content_type="text/plain")
