"""REST routes: incoming webhook management and execution, and bots."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import AppError, invalid_body_param, permission_denied
from .http_util import OK, caller, json_object, json_response, paging, path_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

HID = "{hook_id:[A-Za-z0-9]+}"


def parse_error() -> AppError:
    """Return the 400 for a webhook body that cannot be decoded."""
    return AppError(400, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.")


class HookRoutes:
    """Incoming webhooks (/api/v4/hooks/incoming and /hooks/{id}) and bots (/api/v4/bots)."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes (management under the API root, execution at /hooks/{id})."""
        router.add_post(api + "/hooks/incoming", self.create)
        router.add_get(api + "/hooks/incoming", self.list_hooks)
        router.add_get(api + f"/hooks/incoming/{HID}", self.get)
        router.add_delete(api + f"/hooks/incoming/{HID}", self.delete)
        router.add_post(f"/hooks/{HID}", self.execute)
        router.add_post(api + "/bots", self.create_bot)
        router.add_get(api + "/bots", self.list_bots)
        router.add_get(api + "/bots/{bot_user_id:[A-Za-z0-9]+}", self.get_bot)

    def may_manage(self, user: dict, team_id: str) -> bool:
        """Tell whether the user may manage the team's webhooks (system or team admins)."""
        return self.state.is_admin(user) or self.state.is_team_admin(team_id, user["id"])

    def hook(self, request: web.Request, user: dict) -> dict:
        """Return the hook named by the URL if the user may manage it."""
        hook = self.state.hooks.get(path_id(request, "hook_id"))
        if hook is None or hook["delete_at"]:
            raise AppError(404, "app.webhooks.get_incoming.app_error", "We couldn't get the webhook.")
        if not self.may_manage(user, hook["team_id"]):
            raise permission_denied()
        return hook

    async def create(self, request: web.Request) -> web.Response:
        """Create an incoming webhook: 201 IncomingWebhook."""
        user = caller(request)
        body = await json_object(request, "incoming_webhook")
        channel = self.state.channels.get(body.get("channel_id") or "")
        if channel is None:
            raise invalid_body_param("channel_id")
        if not self.may_manage(user, channel["team_id"]) or not self.state.can_read_channel(user, channel):
            raise permission_denied()
        hook = self.core.webhooks.create(
            channel, user["id"], display_name=str(body.get("display_name") or ""),
            description=str(body.get("description") or ""), username=str(body.get("username") or ""),
            icon_url=str(body.get("icon_url") or ""), channel_locked=bool(body.get("channel_locked")))
        return json_response(hook, 201)

    async def list_hooks(self, request: web.Request) -> web.Response:
        """List the incoming webhooks the caller may manage."""
        user = caller(request)
        hooks = [h for h in self.state.hooks.values() if not h["delete_at"] and self.may_manage(user, h["team_id"])
                 and request.query.get("team_id", h["team_id"]) == h["team_id"]]
        page, per_page = paging(request)
        return json_response(hooks[page * per_page:(page + 1) * per_page])

    async def get(self, request: web.Request) -> web.Response:
        """Return an incoming webhook."""
        return json_response(self.hook(request, caller(request)))

    async def delete(self, request: web.Request) -> web.Response:
        """Delete an incoming webhook."""
        hook = self.hook(request, caller(request))
        hook["delete_at"] = hook["update_at"] = max(hook["update_at"] + 1, hook["create_at"])
        return json_response(OK)

    async def execute(self, request: web.Request) -> web.Response:
        """Post through a webhook: JSON, form `payload=`, or multipart; answers `ok` as text/plain."""
        payload = await self._payload(request)
        self.core.webhooks.execute(request.match_info["hook_id"], payload)
        return web.Response(text="ok", content_type="text/plain")

    async def _payload(self, request: web.Request) -> Any:
        content_type = request.content_type
        try:
            if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                raw = form.get("payload")
                return json.loads(raw) if isinstance(raw, str) else dict(form)
            raw_body = await request.read()
            return json.loads(raw_body) if raw_body else None
        except (ValueError, UnicodeDecodeError):
            raise parse_error() from None

    # ---------------------------------------------------------------- bots
    async def create_bot(self, request: web.Request) -> web.Response:
        """Create a bot owned by the caller (system admins): 201 Bot."""
        user = caller(request)
        if not self.core.settings.enable_bot_account_creation:
            raise AppError(403, "api.bot.create_disabled", "Bot creation has been disabled.")
        if not self.state.is_admin(user):
            raise permission_denied()
        body = await json_object(request, "bot")
        username = body.get("username")
        if not isinstance(username, str) or not username:
            raise invalid_body_param("username")
        bot, _ = self.core.accounts.create_bot(username, str(body.get("display_name") or ""),
                                               str(body.get("description") or ""), owner_id=user["id"])
        return json_response(bot, 201)

    async def list_bots(self, request: web.Request) -> web.Response:
        """List bots."""
        caller(request)
        return json_response(list(self.state.bots.values()))

    async def get_bot(self, request: web.Request) -> web.Response:
        """Return a bot."""
        caller(request)
        bot = self.state.bots.get(path_id(request, "bot_user_id"))
        if bot is None:
            raise AppError(404, "store.sql_bot.get.missing.app_error", "Bot does not exist.")
        return json_response(bot)
