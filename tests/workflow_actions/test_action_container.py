"""container and container_cleanup against the fake Docker Engine of the integration tests."""
from __future__ import annotations

import pytest

from bot.workflow.actions import actions, container_cleanup
from bot.workflow.context import Integrations
from bot.workflow.integrations.docker import INCIDENT_LABEL
from tests.mosquitto import free_port
from tests.workflow_actions.conftest import step_args
from tests.workflow_integrations.local_server import serve_unix
from tests.workflow_integrations.test_docker_client import FakeEngine

container = actions()["container"]


@pytest.fixture
async def engine(tmp_path):
    fake = FakeEngine()
    async with serve_unix(fake.app(), tmp_path / "docker.sock") as url:
        yield fake, Integrations(docker_url=url)


async def test_starts_a_labelled_container_with_the_default_name_and_rendered_env(step, engine):
    fake, integrations = engine
    args = step_args("container", {"image": "busybox", "env": {"INCIDENT": "{{ incident.key }}"},
                                   "command": ["sleep", "3600"]})
    result = await container(step.ctx(step_id="capture", integrations=integrations), args)
    assert result.ok, result
    name = f"incident-bot-{step.incident.key.lower()}-capture"
    (created,) = fake.containers.values()
    assert created.name == name and created.running
    assert created.config["Env"] == [f"INCIDENT={step.incident.key}"] and created.config["Cmd"] == ["sleep", "3600"]
    assert created.config["Labels"][INCIDENT_LABEL] == step.incident.key
    assert result.detail == {"container_name": name, "image": "busybox", "container_id": created.id}
    assert result.summary == f"started container {name} (busybox)"


async def test_a_named_container_and_a_retry_of_a_default_named_one(step, engine):
    fake, integrations = engine
    named = await container(step.ctx(integrations=integrations), step_args(
        "container", {"image": "busybox", "name": "evidence-{{ incident.id }}"}))
    assert named.ok and named.detail["container_name"] == f"evidence-{step.incident.id}"
    again = await container(step.ctx(integrations=integrations), step_args(
        "container", {"image": "busybox", "name": "evidence-{{ incident.id }}"}))
    assert not again.ok and "already in use" in again.summary  # maybe not ours: never adopted
    first = await container(step.ctx(integrations=integrations), step_args("container", {"image": "busybox"}))
    retry = await container(step.ctx(integrations=integrations), step_args("container", {"image": "busybox"}))
    assert first.ok and retry.ok and retry.detail["existing"] is True
    assert retry.detail["container_name"] == first.detail["container_name"]


async def test_docker_failures_and_missing_configuration_fail_the_step(step, engine):
    _, integrations = engine
    missing = await container(step.ctx(integrations=integrations), step_args("container", {"image": "nosuch/x:1"}))
    assert not missing.ok and "cannot pull nosuch/x:1" in missing.summary
    down = Integrations(docker_url=f"http://127.0.0.1:{free_port()}")
    unreachable = await container(step.ctx(integrations=down), step_args("container", {"image": "busybox"}))
    assert not unreachable.ok and "cannot reach Docker" in unreachable.summary
    off = await container(step.ctx(), step_args("container", {"image": "busybox"}))
    assert (off.ok, off.summary) == (False, "Docker is not configured")


async def test_cleanup_removes_the_containers_named_in_the_step_details(step, engine):
    fake, integrations = engine
    one = await container(step.ctx(step_id="one", integrations=integrations), step_args("container", {"image": "busybox"}))
    two = await container(step.ctx(step_id="two", integrations=integrations), step_args("container", {"image": "busybox"}))
    details = [one.detail, two.detail, {"post_id": "x"}, {"container_name": "already-gone"}]
    result = await container_cleanup(integrations, step.incident, details)
    assert result.ok and fake.containers == {}
    assert result.detail["removed"] == [one.detail["container_name"], two.detail["container_name"], "already-gone"]
    nothing = await container_cleanup(integrations, step.incident, [{"post_id": "x"}])
    assert nothing.ok and nothing.summary == "no containers to remove"
    down = Integrations(docker_url=f"http://127.0.0.1:{free_port()}")
    failed = await container_cleanup(down, step.incident, [one.detail])
    assert not failed.ok and one.detail["container_name"] in failed.detail["failed"]
