"""Run the real Prometheus Alertmanager binary for tests: write its config, start it, push alerts into it.

Checked against Alertmanager 0.25 (Debian's `prometheus-alertmanager`): `slack_configs` need only
`api_url` (any http(s) URL with a host, so `http://127.0.0.1:<port>/hooks/<id>` is fine; `channel` is
optional and becomes the payload's `channel`), `webhook_configs` take `http_config.authorization.credentials`
(type `Bearer` by default), and sub-second `group_wait`/`group_interval` are accepted (there is no
minimum). `--cluster.listen-address=` (empty) turns clustering off, so `/-/ready` answers at once.
Alertmanager cannot report a port it picked itself, so free ports are found here and handed to it.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import aiohttp
import pytest

from tests.processes import log_tail, stop_process

BINARY_NAME = "prometheus-alertmanager"
INSTALL_HINT = "apt-get install prometheus-alertmanager"
RECEIVER = "incident-bot"
_READY_TIMEOUT = 20.0
_START_ATTEMPTS = 3


def alertmanager_binary() -> str | None:
    """Return the Alertmanager executable ($ALERTMANAGER_BIN, else `prometheus-alertmanager`, else `alertmanager`)."""
    override = os.environ.get("ALERTMANAGER_BIN")
    if override:
        return shutil.which(override)
    return shutil.which(BINARY_NAME) or shutil.which("alertmanager")


requires_alertmanager = pytest.mark.skipif(
    alertmanager_binary() is None,
    reason=f"the Alertmanager binary is not installed ({INSTALL_HINT})",
)


def rfc3339(moment: datetime) -> str:
    """Format an aware datetime as Alertmanager's API expects (UTC, `Z`)."""
    if moment.tzinfo is None:
        raise ValueError("alert times must be timezone-aware")
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a port that is free right now (Alertmanager cannot bind port 0 and tell us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _labels_key(labels: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def _wire_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Turn one alert dict into a `postableAlert`, formatting datetimes and dropping empty times."""
    if not isinstance(alert.get("labels"), Mapping) or not alert["labels"]:
        raise ValueError(f"an alert needs non-empty labels: {alert!r}")
    wire: dict[str, Any] = {"labels": dict(alert["labels"])}
    for key in ("annotations", "generatorURL"):
        if alert.get(key):
            wire[key] = dict(alert[key]) if key == "annotations" else alert[key]
    for key in ("startsAt", "endsAt"):
        value = alert.get(key)
        if isinstance(value, datetime):
            value = rfc3339(value)
        if value:
            wire[key] = value
    return wire


def write_config(
    path: Path,
    *,
    slack_api_url: str | None,
    slack_channel: str | None,
    webhook_url: str | None,
    webhook_token: str | None,
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
    send_resolved: bool,
) -> Path:
    """Write an alertmanager.yml with one route (grouped by alertname) to one receiver."""
    receiver: dict[str, Any] = {"name": RECEIVER}
    if slack_api_url:
        slack: dict[str, Any] = {"api_url": slack_api_url, "send_resolved": send_resolved}
        if slack_channel:
            slack["channel"] = slack_channel
        receiver["slack_configs"] = [slack]
    if webhook_url:
        webhook: dict[str, Any] = {"url": webhook_url, "send_resolved": send_resolved}
        if webhook_token:
            webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials": webhook_token}}
        receiver["webhook_configs"] = [webhook]
    config = {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [receiver],
    }
    # JSON is YAML, and json.dumps quotes every string safely.
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


@dataclass
class RunningAlertmanager:
    """A started Alertmanager: its URL, and ways to push, resolve and list alerts, and to stop it."""

    url: str
    process: asyncio.subprocess.Process
    config_path: Path
    log_path: Path
    _sent: dict[frozenset[tuple[str, str]], dict[str, Any]] = field(default_factory=dict, repr=False)

    async def push(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """POST alerts to `/api/v2/alerts` as Prometheus does (labels, annotations, startsAt, endsAt, generatorURL).

        A firing alert without `startsAt` gets the current time, so that `resolve` can resend the same start.
        """
        wire = [_wire_alert(alert) for alert in alerts]
        now = rfc3339(datetime.now(timezone.utc))
        for alert in wire:
            if "endsAt" not in alert:
                alert.setdefault("startsAt", now)
            self._sent[_labels_key(alert["labels"])] = alert
        await self._request("POST", "/api/v2/alerts", wire)

    async def resolve(self, labels: Mapping[str, str], *, ends_at: datetime | None = None) -> None:
        """Resend the alert with these labels with `endsAt` in the past, as Prometheus does when it clears."""
        ends = ends_at or datetime.now(timezone.utc) - timedelta(milliseconds=1)
        previous = self._sent.get(_labels_key(labels), {"labels": dict(labels)})
        await self.push([{**previous, "endsAt": ends}])

    async def alerts(self) -> list[dict[str, Any]]:
        """GET `/api/v2/alerts`: the alerts Alertmanager holds, with its own fingerprints."""
        return await self._request("GET", "/api/v2/alerts")

    async def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s)."""
        await stop_process(self.process)

    def log_tail(self, lines: int = 30) -> str:
        """The end of Alertmanager's own log (for failure messages only)."""
        return log_tail(self.log_path, lines)

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.url + path, json=body) as response:
                text = await response.text()
                if response.status >= 300:
                    raise AssertionError(f"Alertmanager {method} {path} answered {response.status}: {text}")
                return json.loads(text) if text.strip() else None


async def _wait_ready(am: RunningAlertmanager, timeout: float) -> bool:
    """Poll `/-/ready` until it answers 200; False if the process exits first."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        while asyncio.get_running_loop().time() < deadline:
            if am.process.returncode is not None:
                return False
            try:
                async with session.get(am.url + "/-/ready") as response:
                    if response.status == 200:
                        return True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"Alertmanager at {am.url} was not ready within {timeout}s; its log:\n{am.log_tail()}")


async def start_alertmanager(
    tmp_path: Path,
    *,
    slack_api_url: str | None = None,
    slack_channel: str | None = None,
    webhook_url: str | None = None,
    webhook_token: str | None = None,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    send_resolved: bool = True,
) -> RunningAlertmanager:
    """Start Alertmanager on a free port with a receiver for the given Slack and/or webhook URLs.

    Skips the calling test when the binary is not installed. The caller must `await am.stop()`.
    """
    binary = alertmanager_binary()
    if binary is None:
        pytest.skip(f"the Alertmanager binary is not installed ({INSTALL_HINT})")
    if not slack_api_url and not webhook_url:
        raise ValueError("give slack_api_url and/or webhook_url")
    home = tmp_path / "alertmanager"
    (home / "data").mkdir(parents=True, exist_ok=True)
    config_path = write_config(
        home / "alertmanager.yml", slack_api_url=slack_api_url, slack_channel=slack_channel,
        webhook_url=webhook_url, webhook_token=webhook_token, group_wait=group_wait,
        group_interval=group_interval, repeat_interval=repeat_interval, send_resolved=send_resolved,
    )
    log_path = home / "alertmanager.log"
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log_path, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                binary,
                f"--config.file={config_path}",
                f"--storage.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--cluster.listen-address=",
                "--log.level=debug",
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )
        am = RunningAlertmanager(url=url, process=process, config_path=config_path, log_path=log_path)
        try:
            if await _wait_ready(am, _READY_TIMEOUT):
                return am
        except BaseException:
            await am.stop()
            raise
        # It exited before it was ready: most likely the port was taken meanwhile; try another.
        await am.stop()
    raise AssertionError(f"Alertmanager would not start ({_START_ATTEMPTS} attempts); its log:\n{am.log_tail()}")
