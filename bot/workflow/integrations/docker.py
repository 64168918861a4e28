"""Investigation containers through the Docker Engine API, over the unix socket or TCP.

Routes (Docker Engine API v1.43; https://docs.docker.com/reference/api/engine/version/v1.43/):
- POST /containers/create?name=   ContainerCreate: 201 {Id, Warnings}; 404 {"message": "No such image: ..."}
- POST /images/create?fromImage=&tag=   ImageCreate: 200 and a JSON-lines progress stream; a failed pull may
  still be 200 and report itself in a line's "errorDetail"/"error"
- POST /containers/{id}/start     ContainerStart: 204, 304 already started
- POST /containers/{id}/stop?t=   ContainerStop: 204, 304 already stopped
- DELETE /containers/{id}?force=true   ContainerDelete: 204, 404 no such container
Errors carry {"message": ...} (the ErrorResponse schema).
"""
from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

log = logging.getLogger(__name__)

INCIDENT_LABEL = "incident-bot.incident"
MANAGED_LABEL = "incident-bot.managed"
API_VERSION = "v1.43"
# Docker's own rule for container names.
_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")


class DockerError(Exception):
    """The Docker Engine refused or could not be reached; `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message if self.status is None else f"Docker answered HTTP {self.status}: {self.message}"


@dataclass(frozen=True)
class Container:
    """A container the bot created and started."""

    id: str
    name: str
    warnings: tuple[str, ...] = ()


class DockerClient:
    """A small Docker Engine client: create, start, stop and remove containers, pulling images on demand."""

    def __init__(self, url: str = "unix:///var/run/docker.sock", *, api_version: str = API_VERSION,
                 timeout: float = 60.0, pull_timeout: float = 600.0) -> None:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            if not parts.path:
                raise ValueError(f"{url!r}: a unix URL needs a socket path, e.g. unix:///var/run/docker.sock")
            self._socket_path: str | None = parts.path
            self._base = f"http://localhost/{api_version}"
        elif parts.scheme in ("http", "https", "tcp") and parts.hostname:
            self._socket_path = None
            scheme = "http" if parts.scheme == "tcp" else parts.scheme
            self._base = f"{scheme}://{parts.netloc}/{api_version}"
        else:
            raise ValueError(f"{url!r}: expected unix:///path/to/docker.sock, http://host:port or tcp://host:port")
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._pull_timeout = aiohttp.ClientTimeout(total=pull_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> DockerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_and_start(
        self,
        name: str,
        image: str,
        *,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        incident_key: str | None = None,
    ) -> Container:
        """Create a container (pulling the image if Docker lacks it) and start it."""
        if not _NAME.match(name):
            raise DockerError(f"invalid container name {name!r}: use letters, digits, '_', '.', '-'")
        all_labels = {MANAGED_LABEL: "true", **(labels or {})}
        if incident_key is not None:
            all_labels[INCIDENT_LABEL] = incident_key
        spec: dict[str, Any] = {"Image": image, "Labels": all_labels}
        if env:
            spec["Env"] = [f"{key}={value}" for key, value in env.items()]
        if command is not None:
            spec["Cmd"] = list(command)
        status, body = await self._request("POST", "/containers/create", params={"name": name}, json_body=spec)
        if status == 404:
            log.info("image %s missing; pulling it", image)
            await self.pull(image)
            status, body = await self._request("POST", "/containers/create", params={"name": name}, json_body=spec)
        if status != 201:
            raise _error(status, body, f"cannot create container {name}")
        created = _json(body)
        container = Container(id=str(created.get("Id", "")), name=name,
                              warnings=tuple(map(str, created.get("Warnings") or ())))
        if not container.id:
            raise DockerError(f"container {name} created but Docker returned no Id", status=status)
        status, body = await self._request("POST", f"/containers/{quote(container.id, safe='')}/start")
        if status not in (204, 304):
            error = _error(status, body, f"cannot start container {name}")
            await self._discard(container.id)
            raise error
        return container

    async def pull(self, image: str) -> None:
        """Pull `image` (one tag, `latest` when none is given), failing if any line of the stream reports an error."""
        repository, tag = split_image(image)
        params = {"fromImage": repository, "tag": tag}
        with self._translate_errors("POST /images/create"):
            async with self._session_now().post(f"{self._base}/images/create", params=params,
                                                timeout=self._pull_timeout) as response:
                if response.status != 200:
                    raise _error(response.status, await response.read(), f"cannot pull {image}")
                async for line in response.content:  # progress lines, read as they come, not kept
                    event = _json(line)
                    problem = (event.get("errorDetail") or {}).get("message") or event.get("error")
                    if problem:
                        raise DockerError(f"cannot pull {image}: {problem}", status=response.status)

    async def stop(self, id_or_name: str, *, grace_seconds: int = 10) -> None:
        """Stop a container, giving it `grace_seconds` before Docker kills it; already stopped is fine."""
        status, body = await self._request("POST", f"/containers/{quote(id_or_name, safe='')}/stop",
                                           params={"t": str(grace_seconds)})
        if status not in (204, 304):
            raise _error(status, body, f"cannot stop container {id_or_name}")

    async def remove(self, id_or_name: str) -> bool:
        """Remove a container, killing it if it runs; return False if there was none to remove."""
        status, body = await self._request("DELETE", f"/containers/{quote(id_or_name, safe='')}",
                                           params={"force": "true"})
        if status == 404:
            return False
        if status != 204:
            raise _error(status, body, f"cannot remove container {id_or_name}")
        return True

    async def _discard(self, container_id: str) -> None:
        """Remove a container that failed to start, keeping the start error as the one reported."""
        try:
            await self.remove(container_id)
        except DockerError as exc:
            log.warning("could not remove container %s after a failed start: %s", container_id, exc)

    async def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                       json_body: Any = None) -> tuple[int, bytes]:
        """Send one request and return the status and the whole body."""
        with self._translate_errors(f"{method} {path}"):
            async with self._session_now().request(method, f"{self._base}{path}", params=params,
                                                   json=json_body) as response:
                return response.status, await response.read()

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.UnixConnector(path=self._socket_path) if self._socket_path else None
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    @contextlib.contextmanager
    def _translate_errors(self, what: str) -> Iterator[None]:
        """Turn transport failures into DockerError naming the daemon."""
        try:
            yield
        except TimeoutError:
            raise DockerError(f"no answer from Docker at {self.url} in time ({what})") from None
        except aiohttp.ClientError as exc:
            raise DockerError(f"cannot reach Docker at {self.url}: {exc}") from None


def split_image(image: str) -> tuple[str, str]:
    """Split an image reference into what ImageCreate wants: (fromImage, tag or digest)."""
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:  # a colon before the last slash is a registry port, not a tag
        return image[:colon], image[colon + 1:]
    return image, "latest"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error(status: int, body: bytes, what: str) -> DockerError:
    """Turn an error answer into DockerError, using Docker's {"message": ...} when there is one."""
    message = _json(body).get("message") or body.decode("utf-8", errors="replace").strip()[:300] or "no details"
    return DockerError(f"{what}: {message}", status=status)
