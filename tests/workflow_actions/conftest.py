"""A step's world for the action tests: the sandbox with a seeded team, an incident channel, a real REST client,
a real SQLite task store, and a StepContext built like the engine's (templates rendered with StrictUndefined)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator, Mapping

import pytest
import yaml

from bot.incidents.model import Incident, Severity, Status
from bot.mattermost.rest import MattermostRest
from bot.store.db import Database
from bot.store.incidents import insert_incident
from bot.store.tasks import TaskStore
from bot.workflow.context import Integrations, StepContext
from bot.workflow.loader import playbook_from_document
from bot.workflow.model import Playbook
from bot.workflow.template_check import playbook_environment
from bot.yamlsource import parse_yaml
from tests.conftest import World

CREATED_AT = 1_767_787_200_000  # 2026-01-07 12:00 UTC, in ms


def step_args(kind: str, args: Any, *, top: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """The arguments the engine hands an action, read by the real loader from a one-step playbook."""
    document = {"name": "test", **(top or {}), "steps": [{"id": "the-step", kind: args}]}
    playbook = playbook_from_document(parse_yaml(yaml.safe_dump(document, sort_keys=False), "test.yaml"))
    return playbook.steps[0].action.args


def render_data_with(render):
    def render_data(value: Any) -> Any:
        if isinstance(value, str):
            return render(value)
        if isinstance(value, dict):
            return {key: render_data(item) for key, item in value.items()}
        if isinstance(value, list):
            return [render_data(item) for item in value]
        return value
    return render_data


@dataclass
class Step:
    """What a test needs around one action run."""

    world: World
    rest: MattermostRest
    store: TaskStore
    incident: Incident
    channel: dict
    reminders: list[tuple[str, str, int]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=lambda: {"namespace": "shop"})

    def render(self, source: str) -> str:
        context = {
            "incident": self.incident,
            "alert": SimpleNamespace(name="HighErrorRate", labels=self.labels, annotations={}, summary="5xx",
                                     link="", severity="critical", status="firing"),
            "people": SimpleNamespace(commander="alice", reporter="bob"),
        }
        return playbook_environment().from_string(source).render(context)

    def ctx(self, *, step_id: str = "the-step", integrations: Integrations | None = None,
            playbook: Playbook | None = None, incident: Incident | None = None) -> StepContext:
        async def schedule_reminder(message: str, to: str, seconds: int) -> None:
            self.reminders.append((message, to, seconds))

        incident = incident or self.incident
        return StepContext(
            incident=incident, playbook=playbook or Playbook(name="test", file="test.yaml"), step_id=step_id,
            key=f"{incident.key}/{step_id}/1", team_id=self.world.team["id"], bot_user_id=self.world.bot["id"],
            chat=self.rest, tasks=self.store, integrations=integrations or Integrations(), render=self.render,
            render_data=render_data_with(self.render), schedule_reminder=schedule_reminder,
            props={"incident_bot_step": f"{incident.key}/{step_id}"},
        )

    def bot_posts(self, channel_id: str | None = None) -> list[dict]:
        return self.world.bot_posts(channel_id or self.channel["id"])


@pytest.fixture
async def step(world: World, tmp_path: Path) -> AsyncIterator[Step]:
    sandbox = world.sandbox
    channel = sandbox.create_channel(world.team["id"], "inc-42-checkout", "INC-42 Checkout is down",
                                     creator_id=world.bot["id"])
    sandbox.add_channel_member(channel["id"], world.alice["id"])
    header = sandbox.post(world.bot["id"], channel["id"], "**INC-42** Checkout is down")
    db = await Database.open(tmp_path / "bot.sqlite")
    async with db.transaction() as conn:
        incident = await insert_incident(conn, Incident(
            id=0, title="Checkout is down", severity=Severity.SEV2, status=Status.OPEN,
            reporter_id=world.alice["id"], commander_id=world.alice["id"], created_at=CREATED_AT,
            updated_at=CREATED_AT, channel_id=channel["id"], channel_name=channel["name"],
            header_post_id=header["id"]))
    rest = MattermostRest(sandbox.url, world.bot_token, backoff_initial=0.01, backoff_max=0.05)
    await rest.me()
    try:
        yield Step(world, rest, TaskStore(db), incident, channel)
    finally:
        await rest.aclose()
        await db.close()
