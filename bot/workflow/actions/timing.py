"""Actions about time: `wait` (the engine pauses the following steps) and `remind` (a message later)."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from bot.workflow.actions.common import failed, reports_failures
from bot.workflow.context import StepContext, StepResult

log = logging.getLogger(__name__)


def written(seconds: int) -> str:
    """A duration the way playbooks write it: 90 -> '1m30s', 5400 -> '1h30m', 86400 -> '1d'."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


async def wait(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Say how long to pause; the engine holds back the following steps for `detail["wait_s"]` seconds."""
    seconds = args["for"]
    return StepResult(ok=True, summary=f"wait {written(seconds)}", detail={"wait_s": seconds})


@reports_failures
async def remind(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Have the engine remind `to` ('commander', resolved when it fires, or '@user') after `after` seconds."""
    message = ctx.render(args["message"]).strip()
    if not message:
        return failed("the reminder came out empty")
    to, seconds = args["to"], args["after"]
    if to != "commander" and not await ctx.chat.get_user_by_username(to.removeprefix("@")):
        return failed(f"no user named {to}")
    await ctx.schedule_reminder(message, to, seconds)
    return StepResult(ok=True, summary=f"reminder for {to} in {written(seconds)}",
                      detail={"to": to, "after_s": seconds, "message": message})
