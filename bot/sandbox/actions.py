"""Interactive message buttons: POST /posts/{post_id}/actions/{action_id} and the call to the integration.

Follows api4/integration_action.go doPostAction and app/integration_action.go DoPostActionWithCookie of server
11.6. Unlike a default server, integration URLs on loopback or private addresses are allowed (a real server needs
them listed in ServiceSettings.AllowedUntrustedInternalConnections).
"""
from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import logging
import re
import secrets
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .attachments import find_action
from .errors import AppError, permission_denied
from .events import compact
from .http_util import caller, json_response, path_id
from .ids import new_id, now_ms

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

RETAIN_PROP_KEYS = ("from_webhook", "override_username", "override_icon_url")   # model.PostActionRetainPropKeys
MAX_INTEGRATION_RESPONSE_SIZE = 1024 * 1024
SLACK_LINK = re.compile(r"<([^<|]+)\|([^>]+)>")   # model.ParseSlackLinksToMarkdown


def action_integration_error(detail: str = "") -> AppError:
    """Return the 400 for a failed integration call or an unusable answer."""
    return AppError(400, "api.post.do_action.action_integration.app_error", "Action integration error.", detail)


def _typed(value: Any, kinds: tuple, what: str) -> Any:
    """Return value if null or of the kinds Go's json.Unmarshal accepts for the field, else the integration error."""
    if value is not None and not isinstance(value, kinds):
        raise action_integration_error(f"{what} has the wrong type")
    return value


def parse_integration_response(raw: bytes) -> dict:
    """Decode a PostActionIntegrationResponse (empty body: nothing to do); a bad one is a 400 as Unmarshal fails."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise action_integration_error("the integration's answer is not JSON") from None
    body = _typed(body, (dict,), "the answer") or {}
    update = _typed(body.get("update"), (dict,), "update")
    if update is not None:
        _typed(update.get("message"), (str,), "update.message")
        _typed(update.get("props"), (dict,), "update.props")
        files = _typed(update.get("file_ids"), (list,), "update.file_ids")
        for file_id in files or []:
            _typed(file_id, (str,), "update.file_ids[]")
    _typed(body.get("ephemeral_text"), (str,), "ephemeral_text")
    _typed(body.get("skip_slack_parsing"), (bool,), "skip_slack_parsing")
    return body


class PostActions:
    """Run a click on a post's button the way DoPostActionWithCookie does."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state
        self._trigger_key = secrets.token_bytes(32)

    async def click(self, user: dict, post_id: str, action_id: str, selected_option: str = "",
                    cookie: str = "") -> dict:
        """Click as the user: check access, POST the integration, apply its answer; return the API response body."""
        if cookie:
            # Decrypted before any other check; only ephemeral posts carry cookies and the sandbox issues none.
            raise action_integration_error("the action cookie cannot be decrypted")
        self._check_read_access(user, post_id)
        post = self.core.posting.get_live(post_id)
        action = find_action(post["props"], action_id)
        if action is None or "integration" not in action:
            raise AppError(404, "api.post.do_action.action_id.app_error", "Invalid action id.",
                           f"action={action_id}")
        channel = self.state.channels[post["channel_id"]]
        original_props = copy.deepcopy(post["props"])
        retain = {k: original_props[k] for k in RETAIN_PROP_KEYS if k in original_props}
        remove = [k for k in RETAIN_PROP_KEYS if k not in original_props]
        client_trigger_id, trigger_id = self._trigger_ids(user["id"])
        request = self._integration_request(user, post, channel, action, trigger_id, selected_option)
        answer = parse_integration_response(await self._post(action["integration"].get("url", ""), request))
        update = answer.get("update")
        if update is not None:
            props = update.get("props")
            if props is None:
                props = original_props
            else:
                props = {**{k: v for k, v in props.items() if k not in remove}, **retain}
            self.core.posting.update_post(post_id, update.get("message") or "", props, update.get("file_ids") or [])
        text = answer.get("ephemeral_text") or ""
        if text:
            message = text if answer.get("skip_slack_parsing") else SLACK_LINK.sub(r"[\2](\1)", text)
            self.core.posting.send_ephemeral(user["id"], channel["id"], message,
                                             root_id=post["root_id"] or post["id"], props=dict(retain))
        return {"status": "OK", "trigger_id": client_trigger_id}

    def _check_read_access(self, user: dict, post_id: str) -> None:
        """Apply SessionHasPermissionToReadPost: the post's channel must be readable; no channel needs an admin."""
        post = self.state.posts.get(post_id)
        if post is None:
            if not self.state.is_admin(user):
                raise permission_denied()
            return
        if not self.state.can_read_channel(user, self.state.channels[post["channel_id"]]):
            raise permission_denied()

    def trigger_ids(self, user_id: str) -> tuple[str, str]:
        """Return (client trigger id, signed trigger id) for a user, as model.GenerateTriggerId."""
        return self._trigger_ids(user_id)

    def _trigger_ids(self, user_id: str) -> tuple[str, str]:
        """Return (the client trigger id, the signed trigger id sent to the integration), as GenerateTriggerId."""
        client_trigger_id = new_id()
        data = f"{client_trigger_id}:{user_id}:{now_ms()}:"
        signature = hmac.new(self._trigger_key, data.encode(), hashlib.sha256).digest()
        return client_trigger_id, base64.b64encode((data + base64.b64encode(signature).decode()).encode()).decode()

    def _integration_request(self, user: dict, post: dict, channel: dict, action: dict, trigger_id: str,
                             selected_option: str) -> dict:
        """Return the PostActionIntegrationRequest JSON (context omitted when empty)."""
        team = self.state.teams.get(channel["team_id"])
        context = copy.deepcopy(action["integration"].get("context"))
        data_source = ""
        if action.get("type") == "select" and selected_option:
            context = context or {}
            data_source = action.get("data_source", "")
            context["selected_option"] = selected_option
        request = {
            "user_id": user["id"], "user_name": user["username"], "channel_id": channel["id"],
            "channel_name": channel["name"], "team_id": channel["team_id"], "team_domain": team["name"] if team else "",
            "post_id": post["id"], "trigger_id": trigger_id, "type": action.get("type", ""), "data_source": data_source,
        }
        if context:
            request["context"] = context
        return request

    async def _post(self, url: str, request: dict) -> bytes:
        """POST the request to the integration (OutgoingIntegrationRequestsTimeout); non-200 or no answer is a 400."""
        timeout = aiohttp.ClientTimeout(total=self.core.settings.outgoing_integration_requests_timeout)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(url, data=compact(request).encode(), headers=headers) as response:
                    if response.status != 200:
                        raise action_integration_error(f"status={response.status}")
                    body = b""
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        body += chunk
                        if len(body) >= MAX_INTEGRATION_RESPONSE_SIZE:
                            break
                    return body[:MAX_INTEGRATION_RESPONSE_SIZE]
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.info("integration action request to %r failed: %r", url, exc)
            raise action_integration_error(f"err={exc!r}") from None


class ActionRoutes:
    """POST /posts/{post_id}/actions/{action_id}."""

    def __init__(self, core: Core):
        self.core = core

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the route under the API root."""
        router.add_post(api + "/posts/{post_id:[A-Za-z0-9]+}/actions/{action_id:[A-Za-z0-9]+}", self.do_post_action)

    async def do_post_action(self, request: web.Request) -> web.Response:
        """Click a button: 200 {"status": "OK", "trigger_id"}; an undecodable body is ignored, as the server does."""
        user = caller(request)
        post_id = path_id(request, "post_id")
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        selected = body.get("selected_option")
        cookie = body.get("cookie")
        result = await self.core.actions.click(user, post_id, request.match_info["action_id"],
                                               selected_option=selected if isinstance(selected, str) else "",
                                               cookie=cookie if isinstance(cookie, str) else "")
        return json_response(result)
