"""The `/incident` slash command: Mattermost POSTs the command to the bot, which runs it like a mention.

The request is form-encoded and carries the command's token (as a field and as `Authorization: Token`);
anything without the right token is refused. Answers are posted in the channel as the bot, as for a mention,
and Mattermost gets a short ephemeral acknowledgement. With `http.slash_register` the bot makes (or brings up
to date) the team's command itself, with an autocomplete hint built from the command specs.
"""
from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from aiohttp import web

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import CommandText
from bot.chat.router import CommandRouter
from bot.incidents.model import Incident

if TYPE_CHECKING:
    from bot.mattermost.rest import MattermostRest

log = logging.getLogger(__name__)

SLASH_PATH = "/mattermost/command"
SLASH_DESCRIPTION = "Open and run incidents with incident-bot; help lists every command."
SLASH_DISPLAY_NAME = "incident-bot"
HINT_LIMIT = 1024   # Mattermost stores auto_complete_hint in a 1024-character column


def autocomplete_hint(specs: Iterable[CommandSpec], limit: int = HINT_LIMIT) -> str:
    """The hint Mattermost shows after the trigger: `[start|ack|...|help] [arguments]`, in the specs' order.

    `help` goes last; names that do not fit in `limit` characters are left out for a `...`.
    """
    names = sorted(dict.fromkeys(spec.name for spec in specs), key=lambda name: name == "help")
    for count in range(len(names), 0, -1):
        hint = f"[{'|'.join(names[:count] + (['...'] if count < len(names) else []))}] [arguments]"
        if len(hint) <= limit:
            return hint
    return "[command] [arguments]"[:limit]


async def register_slash_command(rest: MattermostRest, team_id: str, trigger: str, url: str, hint: str,
                                 description: str) -> str:
    """Make the team's custom command `/trigger` POST to `url` with this autocomplete; return its token.

    Creates the command when the team has none with the trigger, updates it when its URL, method, hint or
    description differ, and otherwise leaves it be. Refusals (403 without manage_slash_commands) raise
    MattermostError for the caller to decide.
    """
    wanted = {"url": url, "method": "P", "auto_complete": True, "auto_complete_hint": hint,
              "auto_complete_desc": description, "description": description[:128]}
    existing = next((c for c in await rest.list_commands(team_id) if c.get("trigger") == trigger.lower()), None)
    if existing is None:
        command = await rest.create_command({"team_id": team_id, "trigger": trigger, "display_name": SLASH_DISPLAY_NAME,
                                             **wanted})
        log.info("created the slash command /%s (it calls %s)", trigger, url)
    elif any(existing.get(key) != value for key, value in wanted.items()):
        command = await rest.update_command({**existing, **wanted})
        log.info("updated the slash command /%s (it calls %s)", trigger, url)
    else:
        command = existing
    return str(command.get("token", ""))


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
