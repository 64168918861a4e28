"""Actions on the incident channel: rename it, set its header or purpose, invite people."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from bot.mattermost.errors import MattermostError
from bot.workflow.actions.common import (
    DISPLAY_NAME_MAX, HEADER_MAX, PURPOSE_MAX, cut, failed, one_line, reports_failures,
)
from bot.workflow.context import StepContext, StepResult

log = logging.getLogger(__name__)


@reports_failures
async def rename_channel(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Change the incident channel's display name (cut to Mattermost's 64 characters)."""
    name = cut(" ".join(ctx.render(args["display_name"]).split()), DISPLAY_NAME_MAX)
    if not name:
        return failed("the display name came out empty")
    await ctx.chat.patch_channel(ctx.incident.channel_id, display_name=name)
    return StepResult(ok=True, summary=f"renamed the channel to {name!r}", detail={"display_name": name})


@reports_failures
async def set_header(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Set the incident channel's header (cut to Mattermost's 1024 characters)."""
    header = cut(ctx.render(args["text"]).strip(), HEADER_MAX)
    await ctx.chat.patch_channel(ctx.incident.channel_id, header=header)
    return StepResult(ok=True, summary="set the channel header", detail={"header": header})


@reports_failures
async def set_purpose(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Set the incident channel's purpose (cut to Mattermost's 250 characters)."""
    purpose = cut(ctx.render(args["text"]).strip(), PURPOSE_MAX)
    await ctx.chat.patch_channel(ctx.incident.channel_id, purpose=purpose)
    return StepResult(ok=True, summary="set the channel purpose", detail={"purpose": purpose})


@reports_failures
async def invite(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Add the users to the incident channel; report unknown names, and groups as not supported yet.

    The step fails when an add fails (Mattermost refused or did not answer: a retry may help) or when names
    were given and none of them exists; unknown names next to known ones, and groups, are only reported.
    """
    invited: list[str] = []
    unknown: list[str] = []
    refused: dict[str, str] = {}
    for username in args["users"]:
        user = await ctx.chat.get_user_by_username(username)
        if not user:
            unknown.append(username)
            continue
        try:
            await ctx.chat.add_channel_member(ctx.incident.channel_id, user["id"])
        except MattermostError as exc:
            refused[username] = exc.message or f"HTTP {exc.status}"
            continue
        invited.append(username)
    groups = list(args["groups"])
    parts = [f"invited {', '.join('@' + u for u in invited)}" if invited else "invited nobody"]
    if unknown:
        parts.append(f"no user named {', '.join('@' + u for u in unknown)}")
    if refused:
        parts.append("could not add " + ", ".join(f"@{u} ({why})" for u, why in refused.items()))
    if groups:
        # Mattermost custom groups (GET /api/v4/groups?q=, /groups/{id}/members) are not in Chat yet.
        parts.append(f"groups not supported yet: {', '.join(groups)}")
    ok = not refused and (bool(invited) or not unknown)
    detail = {"invited": invited, "unknown": unknown, "refused": refused, "groups_not_supported": groups}
    return StepResult(ok=ok, summary=one_line("; ".join(parts)), detail=detail)
