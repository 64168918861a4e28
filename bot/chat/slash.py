"""The `/incident` slash command: Mattermost POSTs the command to the bot, which runs it like a mention.

The request is form-encoded and carries the command's token (as a field and as `Authorization: Token`);
anything without the right token is refused. Answers are posted in the channel as the bot, as for a mention;
private (ephemeral) answers and a short acknowledgement go back to Mattermost, later through `response_url`
when the command takes longer than Mattermost waits. With `http.slash_register` the bot makes (or brings up
to date) the team's command itself, with an autocomplete hint built from the command specs.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

import aiohttp
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
ANSWER_WITHIN = 2.5  # seconds to answer in the response; Mattermost gives up on a command after a while


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
                 send: Callable[[str, Reply], Awaitable[None]], now: Callable[[], int],
                 answer_within: float = ANSWER_WITHIN) -> list[web.RouteDef]:
    """The route Mattermost calls for `/incident ...`; `send(channel_id, reply)` posts each answer.

    Ephemeral replies go back in the response; a command still running after `answer_within` seconds gets
    "working on it" now and its ephemeral replies later through the request's `response_url`.
    """
    running: set[asyncio.Task] = set()

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
        work = asyncio.create_task(_answer(router, ctx, CommandText(verb.lower(), args.strip()), send))
        running.add(work)
        work.add_done_callback(running.discard)
        done, _ = await asyncio.wait({work}, timeout=answer_within)
        if not done:
            work.add_done_callback(lambda task: _later(task, str(form.get("response_url", "")), running))
            return web.json_response({"response_type": "ephemeral",
                                      "text": f":hourglass_flowing_sand: Working on `/incident {text}`…"})
        private = work.result()
        if private:
            return web.json_response({"response_type": "ephemeral", "text": private})
        return web.json_response({"response_type": "ephemeral", "text": f":white_check_mark: `/incident {text}`"
                                  if verb else "Try `/incident help`."})

    return [web.post(SLASH_PATH, handle)]


async def _answer(router: CommandRouter, ctx: CommandContext, command: CommandText,
                  send: Callable[[str, Reply], Awaitable[None]]) -> str:
    """Run the command, post its public replies; return the private (ephemeral) ones as one text."""
    try:
        replies = await router.dispatch(ctx, command)
    except Exception as exc:   # Mattermost shows the answer to the user: say what failed, keep the bot up
        log.exception("/incident %s failed", command.verb)
        return f":x: `/incident {command.verb}` failed: {exc}. The details are in my log."
    for reply in replies:
        if not reply.ephemeral:
            await send(ctx.channel_id, reply)
    return "\n\n".join(reply.text for reply in replies if reply.ephemeral)


def _later(task: asyncio.Task, response_url: str, running: set[asyncio.Task]) -> None:
    """Send a slow command's private answer through the request's response_url."""
    if task.cancelled() or task.exception() is not None or not task.result():
        return
    if not response_url:
        log.warning("a slow /incident command had a private answer but no response_url to send it to")
        return
    delivery = asyncio.get_running_loop().create_task(_post_answer(response_url, task.result()))
    running.add(delivery)
    delivery.add_done_callback(running.discard)


async def _post_answer(response_url: str, text: str) -> None:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.post(response_url, json={"response_type": "ephemeral", "text": text}) as response:
                if response.status >= 300:
                    log.warning("response_url answered %d to a delayed /incident answer", response.status)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        log.warning("could not send a delayed /incident answer: %s", exc)
