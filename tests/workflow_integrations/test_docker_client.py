"""DockerClient against a local fake Docker Engine, over a unix socket and over TCP.

The fake follows the Docker Engine API v1.43 reference (https://docs.docker.com/reference/api/engine/version/v1.43/):
ContainerCreate 201 {Id, Warnings} / 404 / 409, ImageCreate 200 with a JSON-lines progress stream,
ContainerStart 204 / 304, ContainerStop 204 / 304, ContainerDelete 204 / 404, errors as {"message": ...}.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from bot.workflow.integrations.docker import (
    INCIDENT_LABEL, MANAGED_LABEL, Container, DockerClient, DockerError, split_image,
)
from tests.workflow_integrations.local_server import serve_tcp, serve_unix


@dataclass
class FakeContainer:
    id: str
    name: str
    config: dict
    running: bool = False


@dataclass
class FakeEngine:
    """The handful of Engine routes the client uses, with images and containers kept in memory."""

    images: set[str] = field(default_factory=lambda: {"busybox:latest"})
    pullable: set[str] = field(default_factory=lambda: {"alpine:3.20"})
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        application = web.Application(middlewares=[self.record])
        application.router.add_post("/{version}/containers/create", self.create)
        application.router.add_post("/{version}/images/create", self.pull)
        application.router.add_post("/{version}/containers/{id}/start", self.start)
        application.router.add_post("/{version}/containers/{id}/stop", self.stop)
        application.router.add_delete("/{version}/containers/{id}", self.delete)
        return application

    @web.middleware
    async def record(self, request: web.Request, handler):
        self.requests.append(f"{request.method} {request.path_qs}")
        return await handler(request)

    def find(self, id_or_name: str) -> FakeContainer | None:
        return next((c for c in self.containers.values() if id_or_name in (c.id, c.name)), None)

    async def create(self, request: web.Request) -> web.Response:
        config = await request.json()
        name = request.query["name"]
        image = config["Image"] if ":" in config["Image"] else f"{config['Image']}:latest"
        if image not in self.images:
            return web.json_response({"message": f"No such image: {image}"}, status=404)
        if existing := self.find(name):
            return web.json_response({"message": f'Conflict. The container name "/{name}" is already in use by '
                                                 f'container "{existing.id}". You have to remove (or rename) that '
                                                 "container to be able to reuse that name."}, status=409)
        container = FakeContainer(id=secrets.token_hex(32), name=name, config=config)
        self.containers[container.id] = container
        return web.json_response({"Id": container.id, "Warnings": []}, status=201)

    async def pull(self, request: web.Request) -> web.StreamResponse:
        image = f"{request.query['fromImage']}:{request.query['tag']}"
        if image.startswith("nosuch/"):
            return web.json_response({"message": f"pull access denied for {request.query['fromImage']}, repository "
                                                 "does not exist or may require 'docker login'"}, status=404)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(json.dumps({"status": f"Pulling from library/{image}", "id": request.query["tag"]})
                             .encode() + b"\r\n")
        if image not in self.pullable:
            await response.write(json.dumps({"errorDetail": {"message": "manifest unknown"},
                                             "error": "manifest unknown"}).encode() + b"\r\n")
            return response
        for line in ({"status": "Pulling fs layer", "progressDetail": {}, "id": "a1b2c3"},
                     {"status": "Pull complete", "progressDetail": {}, "id": "a1b2c3"},
                     {"status": "Digest: sha256:" + "0" * 64},
                     {"status": f"Status: Downloaded newer image for {image}"}):
            await response.write(json.dumps(line).encode() + b"\r\n")
        self.images.add(image)
        return response

    async def start(self, request: web.Request) -> web.Response:
        container = self.find(request.match_info["id"])
        if container is None:
            return web.json_response({"message": f"No such container: {request.match_info['id']}"}, status=404)
        if container.running:
            return web.Response(status=304)
        if container.config.get("Cmd") == ["nope"]:
            return web.json_response({"message": 'failed to create task for container: exec: "nope": executable '
                                                 "file not found in $PATH: unknown"}, status=400)
        container.running = True
        return web.Response(status=204)

    async def stop(self, request: web.Request) -> web.Response:
        container = self.find(request.match_info["id"])
        if container is None:
            return web.json_response({"message": f"No such container: {request.match_info['id']}"}, status=404)
        if not container.running:
            return web.Response(status=304)
        container.running = False
        return web.Response(status=204)

    async def delete(self, request: web.Request) -> web.Response:
        container = self.find(request.match_info["id"])
        if container is None:
            return web.json_response({"message": f"No such container: {request.match_info['id']}"}, status=404)
        if container.running and request.query.get("force") != "true":
            return web.json_response({"message": "You cannot remove a running container"}, status=409)
        del self.containers[container.id]
        return web.Response(status=204)


@pytest.fixture(params=["unix", "tcp"])
async def engine(request, tmp_path):
    fake = FakeEngine()
    server = serve_unix(fake.app(), tmp_path / "docker.sock") if request.param == "unix" else serve_tcp(fake.app())
    async with server as url:
        async with DockerClient(url) as client:
            yield fake, client


async def test_create_and_start_labels_and_runs_the_container(engine):
    fake, docker = engine
    container = await docker.create_and_start("inc-42-debug", "busybox", env={"INCIDENT": "INC-42"},
                                              command=["sleep", "3600"], labels={"team": "sre"}, incident_key="INC-42")
    assert isinstance(container, Container) and container.name == "inc-42-debug" and len(container.id) == 64
    created = fake.containers[container.id]
    assert created.running
    assert created.config["Labels"] == {"team": "sre", INCIDENT_LABEL: "INC-42", MANAGED_LABEL: "true"}
    assert created.config["Env"] == ["INCIDENT=INC-42"] and created.config["Cmd"] == ["sleep", "3600"]
    assert fake.requests == ["POST /v1.43/containers/create?name=inc-42-debug",
                             f"POST /v1.43/containers/{container.id}/start"]


async def test_missing_image_is_pulled_then_creation_retried(engine):
    fake, docker = engine
    container = await docker.create_and_start("probe", "alpine:3.20")
    assert fake.containers[container.id].running
    assert fake.requests == ["POST /v1.43/containers/create?name=probe",
                             "POST /v1.43/images/create?fromImage=alpine&tag=3.20",
                             "POST /v1.43/containers/create?name=probe",
                             f"POST /v1.43/containers/{container.id}/start"]


async def test_a_pull_that_fails_inside_the_stream_is_an_error(engine):
    fake, docker = engine
    with pytest.raises(DockerError) as caught:
        await docker.create_and_start("probe", "alpine:0.0-gone")
    assert "manifest unknown" in str(caught.value) and "alpine:0.0-gone" in str(caught.value)
    assert fake.containers == {}


async def test_a_pull_refused_by_the_registry_is_an_error(engine):
    fake, docker = engine
    with pytest.raises(DockerError) as caught:
        await docker.create_and_start("probe", "nosuch/image")
    assert caught.value.status == 404 and "pull access denied for nosuch/image" in str(caught.value)


async def test_error_bodies_become_docker_errors(engine):
    fake, docker = engine
    await docker.create_and_start("dup", "busybox")
    with pytest.raises(DockerError) as caught:
        await docker.create_and_start("dup", "busybox")
    assert caught.value.status == 409
    assert 'The container name "/dup" is already in use' in caught.value.message
    assert "HTTP 409" in str(caught.value)


async def test_a_container_that_fails_to_start_is_removed(engine):
    fake, docker = engine
    with pytest.raises(DockerError) as caught:
        await docker.create_and_start("broken", "busybox", command=["nope"])
    assert caught.value.status == 400 and "executable file not found" in caught.value.message
    assert fake.containers == {}


async def test_stop_and_remove_are_idempotent(engine):
    fake, docker = engine
    container = await docker.create_and_start("tmp", "busybox")
    await docker.stop(container.id, grace_seconds=1)
    assert not fake.containers[container.id].running
    await docker.stop("tmp")  # 304: already stopped
    assert await docker.remove("tmp") is True
    assert await docker.remove("tmp") is False
    assert await docker.remove(container.id) is False
    assert f"POST /v1.43/containers/{container.id}/stop?t=1" in fake.requests


async def test_remove_forces_out_a_running_container(engine):
    fake, docker = engine
    container = await docker.create_and_start("running", "busybox")
    assert await docker.remove(container.id) is True
    assert fake.containers == {}
    assert f"DELETE /v1.43/containers/{container.id}?force=true" in fake.requests


async def test_names_are_checked_and_quoted(engine):
    fake, docker = engine
    with pytest.raises(DockerError, match="invalid container name"):
        await docker.create_and_start("../images/create", "busybox")
    assert fake.requests == []
    assert await docker.remove("../images/x") is False
    assert fake.requests == ["DELETE /v1.43/containers/..%2Fimages%2Fx?force=true"]


async def test_an_absent_daemon_is_a_docker_error(tmp_path):
    async with DockerClient(f"unix://{tmp_path}/nothing.sock") as docker:
        with pytest.raises(DockerError) as caught:
            await docker.remove("x")
    assert caught.value.status is None and "cannot reach Docker" in str(caught.value)


@pytest.mark.parametrize("image, expected", [
    ("busybox", ("busybox", "latest")),
    ("alpine:3.20", ("alpine", "3.20")),
    ("registry.local:5000/team/tool", ("registry.local:5000/team/tool", "latest")),
    ("registry.local:5000/team/tool:1.2", ("registry.local:5000/team/tool", "1.2")),
    ("alpine@sha256:" + "a" * 64, ("alpine", "sha256:" + "a" * 64)),
])
def test_split_image(image, expected):
    assert split_image(image) == expected


@pytest.mark.parametrize("url", ["ftp://host", "unix://", "docker.sock"])
def test_unsupported_urls_are_refused(url):
    with pytest.raises(ValueError):
        DockerClient(url)
