"""What the actions share: turning external failures into failed results, finding channels, posting as a step."""
from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable, Mapping

from jinja2 import TemplateError

from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Post
from bot.store.tasks import TaskNotFound
from bot.workflow.context import Action, StepContext, StepResult

log = logging.getLogger(__name__)

# Mattermost's own limits (model.Channel, model.Post); longer text is cut rather than refused.
DISPLAY_NAME_MAX = 64
HEADER_MAX = 1024
PURPOSE_MAX = 250
POST_MAX = 16383


def failed(summary: str, **detail: Any) -> StepResult:
    """A failed result with a one-line reason."""
    return StepResult(ok=False, summary=one_line(summary), detail=detail)


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cut(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reports_failures(action: Callable[[StepContext, Mapping[str, Any]], Awaitable[StepResult]]) -> Action:
    """Turn the failures an action cannot prevent (Mattermost, templates, task references) into `ok=False`."""
    @functools.wraps(action)
    async def run(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
        try:
            return await action(ctx, args)
        except MattermostError as exc:
            log.info("step %s of %s: Mattermost failed: %s", ctx.step_id, ctx.incident.key, exc)
            reason = exc.message or exc.error_id or "no details"
            status = f"HTTP {exc.status}" if exc.status else "no answer"
            return failed(f"Mattermost refused ({status}): {reason}")
        except TemplateError as exc:
            return failed(f"template error: {exc}")
        except TaskNotFound as exc:
            return failed(str(exc))
    return run


async def resolve_channel(ctx: StepContext, target: str) -> tuple[dict[str, Any] | None, str]:
    """Find where `target` points: '' the incident channel, '@user' a direct message, else a channel name.

    Returns (channel, label); channel is None (and label the reason) when there is no such channel or user.
    """
    target = target.strip()
    if not target:
        return {"id": ctx.incident.channel_id, "type": ""}, f"~{ctx.incident.channel_name or ctx.incident.key}"
    if target.startswith("@"):
        username = target[1:]
        user = await ctx.chat.get_user_by_username(username) if username else None
        if not user:
            return None, f"no user named @{username}"
        channel = await ctx.chat.create_direct_channel(ctx.bot_user_id, user["id"])
        return channel, f"@{username}"
    name = target.removeprefix("~")
    channel = await ctx.chat.get_channel_by_name(ctx.team_id, name)
    if not channel:
        return None, f"no channel named {name!r}"
    return channel, f"~{name}"


async def post_as_step(ctx: StepContext, channel: Mapping[str, Any], message: str, *, root_id: str = "") -> Post:
    """Post with the step's props; join a public channel first if Mattermost says the bot is not in it."""
    text = cut(message, POST_MAX)
    try:
        return await ctx.chat.create_post(channel["id"], text, root_id=root_id, props=dict(ctx.props))
    except MattermostError as exc:
        if exc.status != 403 or channel.get("type") != "O":
            raise
    log.info("joining public channel %s to post for %s", channel.get("name", channel["id"]), ctx.incident.key)
    await ctx.chat.add_channel_member(channel["id"], ctx.bot_user_id)
    return await ctx.chat.create_post(channel["id"], text, root_id=root_id, props=dict(ctx.props))
