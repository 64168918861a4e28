"""The real Prometheus Alertmanager sends to the sandbox's incoming webhook and to the bot's HTTP receiver.

Alerts are pushed into a `prometheus-alertmanager` process as Prometheus would push them. Its
`slack_configs` notifier posts through a sandbox incoming webhook into a watched channel, where the
alert parsers must recognise the post; its `webhook_configs` notifier calls the AlertReceiver with a
bearer token. Skipped when the binary is not installed.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.alerts.http_source import ALERTMANAGER_PATH, AlertReceiver
from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus, prometheus_fingerprint
from bot.alerts.parsers import default_parsers, recognise
from bot.mattermost.events import Post
from tests.alertmanager import RunningAlertmanager, requires_alertmanager, start_alertmanager
from tests.conftest import World, eventually

pytestmark = requires_alertmanager

TOKEN = "am-webhook-token"
GENERATOR = "http://prometheus.example.com:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
WEB01 = {"alertname": "InstanceDown", "instance": "web01:9100", "job": "node", "severity": "critical"}
WEB02 = {**WEB01, "instance": "web02:9100"}


def firing(labels: dict[str, str]) -> dict:
    host = labels["instance"].split(":")[0]
    return {"labels": labels, "annotations": {"summary": f"{host} is down"}, "generatorURL": GENERATOR}


class Recorder:
    """The receiver's `on_alerts`: remembers each webhook call's alerts."""

    def __init__(self) -> None:
        self.calls: list[list[Alert]] = []

    async def __call__(self, alerts: list[Alert]) -> None:
        self.calls.append(alerts)


@dataclass
class Pipeline:
    """Alertmanager wired to a sandbox channel (Slack format) and to the bot's HTTP receiver (webhook)."""

    world: World
    am: RunningAlertmanager
    received: Recorder

    def hook_posts(self) -> list[dict]:
        """Posts that arrived in the alerts channel through an incoming webhook."""
        return [p for p in self.world.sandbox.posts(self.world.alerts["id"])
                if p["props"].get("from_webhook") == "true"]


@pytest.fixture
async def pipeline(world: World, tmp_path):
    hook = world.sandbox.create_incoming_hook(world.alerts["id"], world.alice["id"], display_name="Alertmanager")
    received = Recorder()
    receiver = AlertReceiver(received, token=TOKEN)
    receiver_url = await receiver.serve(port=0)
    am = None
    try:
        am = await start_alertmanager(
            tmp_path,
            slack_api_url=f"{world.sandbox.url}/hooks/{hook['id']}",
            slack_channel=world.alerts["name"],
            webhook_url=receiver_url + ALERTMANAGER_PATH,
            webhook_token=TOKEN,
            group_wait="500ms",
            group_interval="500ms",
        )
        yield Pipeline(world, am, received)
    finally:
        if am is not None:
            await am.stop()
        await receiver.close()


def only_attachment(post: dict) -> dict:
    assert post["type"] == "slack_attachment"
    assert post["props"]["from_webhook"] == "true"
    (attachment,) = post["props"]["attachments"]
    return attachment


def recognised(post: dict) -> list[Alert]:
    recognition = recognise(Post.from_json(post), default_parsers())
    assert recognition.parser == "alertmanager", recognition
    return list(recognition.alerts)


async def am_fingerprint(am: RunningAlertmanager, labels: dict[str, str]) -> str:
    """The fingerprint Alertmanager itself gives the alert with these labels."""
    (held,) = [a for a in await am.alerts() if a["labels"] == labels]
    return held["fingerprint"]


async def test_a_firing_then_resolved_alert_reaches_the_channel_and_the_receiver(pipeline: Pipeline):
    am, received = pipeline.am, pipeline.received
    await am.push([firing(WEB01)])

    (post,) = await eventually(pipeline.hook_posts)
    attachment = only_attachment(post)
    assert attachment["title"] == "[FIRING:1] InstanceDown (web01:9100 node critical)"
    assert attachment["color"] == "danger"
    assert attachment["title_link"].startswith(am.url)
    (from_post,) = recognised(post)
    assert from_post.source is AlertSource.ALERTMANAGER
    assert from_post.name == "InstanceDown"
    assert from_post.status is AlertStatus.FIRING
    assert from_post.severity is AlertSeverity.CRITICAL
    assert from_post.post_id == post["id"]

    (call,) = await eventually(lambda: received.calls)
    (from_webhook,) = call
    fingerprint = await am_fingerprint(am, WEB01)
    assert from_webhook.fingerprint == fingerprint == prometheus_fingerprint(WEB01)
    assert from_webhook.source is AlertSource.ALERTMANAGER
    assert from_webhook.status is AlertStatus.FIRING
    assert dict(from_webhook.labels) == WEB01
    assert from_webhook.summary == "web01 is down"
    assert from_webhook.link == GENERATOR
    assert from_webhook.starts_at is not None and from_webhook.ends_at is None

    await am.resolve(WEB01)

    _, resolved_post = await eventually(lambda: pipeline.hook_posts()[1:] and pipeline.hook_posts())
    attachment = only_attachment(resolved_post)
    assert attachment["title"] == "[RESOLVED] InstanceDown (web01:9100 node critical)"
    assert attachment["color"] == "good"
    (cleared,) = recognised(resolved_post)
    assert cleared.name == "InstanceDown"
    assert cleared.status is AlertStatus.RESOLVED
    assert cleared.fingerprint == from_post.fingerprint  # the same group, so the bot can pair them

    _, resolved_call = await eventually(lambda: received.calls[1:] and received.calls)
    (gone,) = resolved_call
    assert gone.fingerprint == fingerprint
    assert gone.status is AlertStatus.RESOLVED
    assert dict(gone.labels) == WEB01
    assert gone.starts_at == from_webhook.starts_at
    assert gone.ends_at is not None and gone.ends_at > gone.starts_at


async def test_two_alerts_with_one_alertname_arrive_as_one_group(pipeline: Pipeline):
    am, received = pipeline.am, pipeline.received
    await am.push([firing(WEB01), firing(WEB02)])

    (post,) = await eventually(pipeline.hook_posts)
    (call,) = await eventually(lambda: received.calls)
    attachment = only_attachment(post)
    assert attachment["title"] == "[FIRING:2] InstanceDown (node critical)"
    (group,) = recognised(post)
    assert group.name == "InstanceDown"
    assert group.status is AlertStatus.FIRING
    assert group.severity is AlertSeverity.CRITICAL
    assert group.annotations["firing_count"] == "2"

    fingerprints = {await am_fingerprint(am, WEB01), await am_fingerprint(am, WEB02)}
    assert len(fingerprints) == 2
    assert {a.fingerprint for a in call} == fingerprints
    assert sorted(a.labels["instance"] for a in call) == ["web01:9100", "web02:9100"]
    assert {a.status for a in call} == {AlertStatus.FIRING}
    assert len({a.group_key for a in call}) == 1

    # Prometheus re-pushes firing alerts every evaluation; with nothing changed and a 1h repeat_interval,
    # several group intervals pass without a second notification.
    await am.push([firing(WEB01), firing(WEB02)])
    await asyncio.sleep(1.5)
    assert len(pipeline.hook_posts()) == 1
    assert len(received.calls) == 1
