"""Interactive buttons on the bot's reply to an alert: Acknowledge, Start incident, Ignore for 1h.

Mattermost POSTs a click to the integration URL with the button's context; the context carries an HMAC
made with a secret only the bot knows, so a forged or altered click is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot.alerts.codec import alert_from_json, alert_to_json
from bot.alerts.model import Alert

log = logging.getLogger(__name__)

ACTIONS_PATH = "/mattermost/actions"
BUTTONS = (("ack", "Acknowledge", "primary"), ("start", "Start incident", "danger"), ("ignore", "Ignore for 1h", "default"))


@dataclass(frozen=True)
class ActionLinks:
    """Where Mattermost sends clicks (the bot's public URL) and the secret that signs button contexts."""

    url: str
    secret: str

    def sign(self, context: dict[str, Any]) -> str:
        payload = json.dumps(context, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()

    def verify(self, context: Any) -> dict[str, Any] | None:
        """The context without its signature if the signature is right, else None."""
        if not isinstance(context, dict) or not isinstance(context.get("signature"), str):
            return None
        unsigned = {k: v for k, v in context.items() if k != "signature"}
        return unsigned if hmac.compare_digest(self.sign(unsigned), context["signature"]) else None


def alert_buttons(links: ActionLinks, alert: Alert, post_id: str) -> list[dict[str, Any]]:
    """The attachment holding the three buttons for one alert."""
    actions = []
    for action_id, label, style in BUTTONS:
        context = {"action": action_id, "post_id": post_id, "alert": alert_to_json(alert)}
        context["signature"] = links.sign(context)
        actions.append({"id": action_id, "name": label, "type": "button", "style": style,
                        "integration": {"url": links.url.rstrip("/") + ACTIONS_PATH, "context": context}})
    return [{"fallback": f"{alert.name}: Acknowledge, Start incident or Ignore", "color": "#E0A800",
             "actions": actions}]


@dataclass(frozen=True)
class Click:
    """A verified button click."""

    action: str
    user_id: str
    user_name: str
    channel_id: str
    post_id: str
    alert_post_id: str
    alert: Alert


@dataclass(frozen=True)
class ClickAnswer:
    """What a click gets: a note to the clicker only and, when `update` is set, the post's new message
    (its buttons then go)."""

    ephemeral: str
    update: str | None = None


ClickHandler = Callable[[Click], Awaitable[str]]
# Other buttons the bot makes (a page's Acknowledge, a command's Confirm): their action name -> handler(context,
# user id, user name); a plain string answer replaces the post's message as well.
OtherButtons = dict[str, Callable[[dict[str, Any], str, str], Awaitable[str | ClickAnswer]]]


def action_routes(links: ActionLinks, on_click: ClickHandler, others: OtherButtons | None = None) -> list[web.RouteDef]:
    """The aiohttp route Mattermost calls when someone clicks one of the bot's buttons."""
    others = others or {}

    async def handle(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "the body is not a JSON object"}, status=400)
        context = links.verify(body.get("context"))
        if context is None or context.get("action") not in {b[0] for b in BUTTONS} | set(others):
            log.warning("refused a button click with a missing or wrong signature")
            return web.json_response({"error": "invalid or missing signature"}, status=403)
        if context["action"] in others:
            outcome = await others[context["action"]](context, str(body.get("user_id", "")),
                                                      str(body.get("user_name", "")))
            if isinstance(outcome, ClickAnswer):
                answer: dict[str, Any] = {"ephemeral_text": outcome.ephemeral}
                if outcome.update is not None:
                    answer["update"] = {"message": outcome.update, "props": {}}
                return web.json_response(answer)
            return web.json_response({"update": {"message": outcome, "props": {}}, "ephemeral_text": outcome})
        try:
            alert = alert_from_json(context["alert"])
        except (KeyError, ValueError, TypeError):
            return web.json_response({"error": "the button's alert is unreadable"}, status=400)
        click = Click(action=context["action"], user_id=str(body.get("user_id", "")),
                      user_name=str(body.get("user_name", "")), channel_id=str(body.get("channel_id", "")),
                      post_id=str(body.get("post_id", "")), alert_post_id=str(context.get("post_id", "")), alert=alert)
        outcome = await on_click(click)
        return web.json_response({"update": {"message": outcome, "props": {}}, "ephemeral_text": outcome})

    return [web.post(ACTIONS_PATH, handle)]
