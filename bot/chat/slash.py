"""The `/incident` slash command: Mattermost POSTs the command to the bot, which runs it like a mention.

The request is form-encoded and carries the command's token (as a field and as `Authorization: Token`);
anything without the right token is refused. Answers are posted in the channel as the bot, as for a mention,
and Mattermost gets a short ephemeral acknowledgement.
"""
from __future__ import annotations

import hmac
import logging
from typing import Awaitable, Callable

from aiohttp import web

from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import CommandText
from bot.chat.router import CommandRouter
from bot.incidents.model import Incident

log = logging.getLogger(__name__)

SLASH_PATH = "/mattermost/command"


def slash_routes(token: str, router: CommandRouter, incident_for_channel: Callable[[str], Awaitable[Incident | None]],
                 send: Callable[[str, Reply], Awaitable[None]], now: Callable[[], int]) -> list[web.RouteDef]:
    """The route Mattermost calls for `/incident ...`; `send(channel_id, reply)` posts each answer."""

    async def handle(request: web.Request) -> web.Response:
        form = await request.post()
        given = str(form.get("token", "")) or request.headers.get("Authorization", "").removeprefix("Token ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            log.warning("refused a slash command with a wrong token")
            return web.json_response({"response_type": "ephemeral", "text": "This command's token is wrong."},
                                     status=401)
        text = str(form.get("text", "")).strip()
        verb, _, args = text.partition(" ")
        channel_id = str(form.get("channel_id", ""))
        ctx = CommandContext(
            actor_id=str(form.get("user_id", "")), actor_username=str(form.get("user_name", "")),
            channel_id=channel_id, post_id="", thread_id="", is_direct="__" in str(form.get("channel_name", "")),
            incident=await incident_for_channel(channel_id), now=now())
        try:
            replies = await router.dispatch(ctx, CommandText(verb.lower(), args.strip()))
        except Exception as exc:   # Mattermost shows the answer to the user: say what failed, keep the bot up
            log.exception("/incident %s failed", verb)
            return web.json_response({"response_type": "ephemeral",
                                      "text": f":x: `/incident {verb}` failed: {exc}. The details are in my log."})
        for reply in replies:
            await send(channel_id, reply)
        return web.json_response({"response_type": "ephemeral", "text": f":white_check_mark: `/incident {text}`"
                                  if replies or verb else "Try `/incident help`."})

    return [web.post(SLASH_PATH, handle)]
