"""What a playbook action gets (the step's context and the bot's services) and gives back (a result)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol

from bot.incidents.model import Incident
from bot.mattermost.events import Post
from bot.workflow.model import Playbook


class Chat(Protocol):
    """The Mattermost calls actions make (MattermostRest provides them)."""

    async def create_post(self, channel_id: str, message: str, *, root_id: str = "", props: dict | None = None,
                          pending_post_id: str | None = None) -> Post: ...
    async def pin_post(self, post_id: str) -> Any: ...
    async def patch_channel(self, channel_id: str, *, header: str | None = None, purpose: str | None = None,
                            display_name: str | None = None) -> dict: ...
    async def add_channel_member(self, channel_id: str, user_id: str) -> Any: ...
    async def get_user_by_username(self, username: str) -> dict | None: ...
    async def get_channel_by_name(self, team_id: str, name: str) -> dict | None: ...
    async def create_direct_channel(self, user_a: str, user_b: str) -> dict: ...
    async def get_posts_since(self, channel_id: str, since_ms: int) -> list[Post]: ...


class Tasks(Protocol):
    """The incident's checklist (numbered tasks), kept in SQLite."""

    async def add(self, incident_id: int, checklist: str, tasks: list[dict[str, Any]]) -> list[int]: ...
    async def assign(self, incident_id: int, task: int | str, user_id: str) -> int: ...
    async def complete(self, incident_id: int, task: int | str, user_id: str) -> int: ...


@dataclass(frozen=True)
class Integrations:
    """Configured access to external systems; None where not configured."""

    commands: Any = None          # bot.workflow.integrations.commands.CommandAllowList
    zoom: Any = None              # a factory: () -> ZoomClient
    docker_url: str = ""
    mqtt: Any = None              # bot.config.MqttConfig-like: host, port, username, password
    jitsi_base: str = "https://meet.jit.si"


@dataclass
class StepContext:
    """Everything one run of an action may use. `key` identifies this step of this incident (idempotency)."""

    incident: Incident
    playbook: Playbook
    step_id: str
    key: str
    team_id: str
    bot_user_id: str
    chat: Chat
    tasks: Tasks
    integrations: Integrations
    render: Callable[[str], str]                 # a template string -> text, with the playbook context
    render_data: Callable[[Any], Any]            # renders every string inside nested JSON-like data
    schedule_reminder: Callable[[str, str, int], Awaitable[None]]   # (message, to, seconds from now)
    props: Mapping[str, Any] = field(default_factory=dict)   # to put on posts this step makes (finds them after a crash)


@dataclass(frozen=True)
class StepResult:
    """How an action went: a one-line summary for the timeline, details to keep, and an optional message."""

    ok: bool
    summary: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""            # posted in the incident channel when set (command output, failure reason)


Action = Callable[[StepContext, Mapping[str, Any]], Awaitable[StepResult]]
