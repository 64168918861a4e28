"""Actions that post: `post` (one channel, a thread or a direct message) and `broadcast` (stakeholder channels)."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from bot.mattermost.errors import MattermostError
from bot.workflow.actions.common import failed, one_line, post_as_step, reports_failures, resolve_channel
from bot.workflow.context import StepContext, StepResult

log = logging.getLogger(__name__)


@reports_failures
async def post(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Post a message in the incident channel, its summary thread, another channel or a direct message."""
    message = ctx.render(args["message"])
    channel, where = await resolve_channel(ctx, ctx.render(args["channel"]) if args["channel"] else "")
    if channel is None:
        return failed(where)
    root_id, note = "", ""
    if args["thread"]:
        root_id = ctx.incident.header_post_id
        where += " (summary thread)" if root_id else ""
        note = "" if root_id else " (no summary post yet, so not in a thread)"
    posted = await post_as_step(ctx, channel, message, root_id=root_id)
    detail: dict[str, Any] = {"post_id": posted.id, "channel_id": posted.channel_id}
    if args["pin"]:
        await ctx.chat.pin_post(posted.id)
        detail["pinned"] = True
    if root_id:
        detail["root_id"] = root_id
    return StepResult(ok=True, summary=f"posted{' and pinned' if args['pin'] else ''} in {where}{note}",
                      detail=detail)


@reports_failures
async def broadcast(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Post the message in each stakeholder channel; a missing or refusing channel does not stop the others."""
    message = ctx.render(args["message"])
    channels = args["channels"] or ctx.playbook.broadcast
    if not channels:
        return failed("no channels to broadcast to")
    posted: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name in channels:
        try:
            channel, reason = await resolve_channel(ctx, name)
            if channel is None:
                problems[name] = reason
                continue
            posted[name] = (await post_as_step(ctx, channel, message)).id
        except MattermostError as exc:
            problems[name] = exc.message or f"HTTP {exc.status}"
    detail = {"posts": posted, "failed": problems}
    done = f"broadcast to {', '.join('~' + n for n in posted)}" if posted else "broadcast reached no channel"
    if problems:
        trouble = "; ".join(f"~{name}: {reason}" for name, reason in problems.items())
        return StepResult(ok=False, summary=one_line(f"{done}; failed: {trouble}"), detail=detail)
    return StepResult(ok=True, summary=done, detail=detail)
