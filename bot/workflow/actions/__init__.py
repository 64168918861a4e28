"""What each playbook action does: small async functions `(ctx, args) -> StepResult`, one module per family.

The engine builds the table with `actions()` (no import-time registry) and calls `container_cleanup` when an
incident closes. Every action returns `ok=False` with a one-line reason for failures outside the bot
(Mattermost, HTTP, commands, Zoom, Docker, MQTT, a template that fails on this incident's data, a task that
is not there) and raises only for programming errors.
"""
from __future__ import annotations

from bot.workflow.actions import channel, external, messages, tasks, timing
from bot.workflow.actions.external import container_cleanup
from bot.workflow.context import Action

__all__ = ["actions", "container_cleanup"]


def actions() -> dict[str, Action]:
    """Every action by the name playbooks use (the keys of `actions_schema.ACTIONS`)."""
    return {
        "post": messages.post,
        "broadcast": messages.broadcast,
        "rename_channel": channel.rename_channel,
        "set_header": channel.set_header,
        "set_purpose": channel.set_purpose,
        "invite": channel.invite,
        "add_tasks": tasks.add_tasks,
        "assign_task": tasks.assign_task,
        "complete_task": tasks.complete_task,
        "wait": timing.wait,
        "remind": timing.remind,
        "http": external.http,
        "run_command": external.run_command,
        "meeting": external.meeting,
        "container": external.container,
        "publish": external.publish,
    }
