"""An Alertmanager storm against the bot: its catch-up cursor never passes an alert post that is not saved;
killed with SIGKILL in the middle (twice), it handles every alert post exactly once after restarting and opens
each incident once; commands are answered while the storm is still being worked through."""
from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

from bot.config import load_config
from tests.conftest import ROOT, World, eventually, start_bot_process

ALERT_NAMES = ("InstanceDown", "HighLatency", "DiskFull", "QueueBacklog")
FINGERPRINTS = 40


def storm_config(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"mattermost:\n  url: {world.sandbox.url}\n  token: ${{TEST_BOT_TOKEN}}\n  team: {world.team['name']}\n"
        f"storage:\n  path: state/bot.sqlite\nplaybooks:\n  dir: {ROOT / 'playbooks'}\n"
        "alerts:\n  channels: [alerts]\n  rules:\n    - name: page\n      match: {severity: critical}\n"
        "      action: open_incident\n      group_by: [alertname]\nlog_level: INFO\n")
    return path


def payload(n: int) -> dict:
    """An Alertmanager Slack notification: one of FINGERPRINTS alerts over the ALERT_NAMES."""
    f = n % FINGERPRINTS
    title = f"[FIRING:1] {ALERT_NAMES[f % len(ALERT_NAMES)]} node-{f:03d}:9100 (node critical)"
    return {"username": "AlertManager", "text": "", "attachments": [
        {"fallback": title, "color": "danger", "title": title, "title_link": "http://am.example.com/#/alerts"}]}


class Storm:
    """Posts alert notifications through the incoming webhook, as fast as the sandbox takes them."""

    def __init__(self, world: World):
        self.world = world
        monitoring = world.sandbox.create_user("monitoring")
        world.sandbox.add_channel_member(world.alerts["id"], monitoring["id"])
        self.hook = world.sandbox.create_incoming_hook(world.alerts["id"], monitoring["id"], "Alertmanager")
        self.post_ids: list[str] = []

    async def send(self, count: int) -> None:
        for _ in range(count):
            post = self.world.sandbox.core.webhooks.execute(self.hook["id"], payload(len(self.post_ids)))
            self.post_ids.append(post["id"])
            if len(self.post_ids) % 50 == 0:
                await asyncio.sleep(0)


def query(tmp_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the bot's database (WAL) without writing to it; [] before it exists."""
    path = tmp_path / "state" / "bot.sqlite"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def handled(tmp_path: Path) -> int:
    rows = query(tmp_path, "SELECT COUNT(*) FROM alert_posts")
    return rows[0][0] if rows else 0


async def started(world: World, tmp_path: Path) -> asyncio.subprocess.Process:
    process = await start_bot_process(world, tmp_path, storm_config(world, tmp_path))
    await eventually(world.bot_is_online, timeout=30)
    return process


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)


def unsaved_posts_behind_the_cursor(tmp_path: Path, channel_id: str, posts: dict[str, int]) -> list[str]:
    """Posts (id -> create_at) at or before the channel's saved cursor that are not saved as handled: a crash now
    would lose them, since the catch-up only reads posts after the cursor. One read, so one consistent snapshot."""
    path = tmp_path / "state" / "bot.sqlite"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, isolation_level=None)
    try:
        conn.execute("BEGIN")
        cursor = conn.execute("SELECT last_update_at FROM channel_cursors WHERE channel_id = ?",
                              (channel_id,)).fetchall()
        saved = {post_id for (post_id,) in conn.execute("SELECT post_id FROM alert_posts")}
        conn.execute("COMMIT")
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    if not cursor:
        return []
    return [post_id for post_id, create_at in posts.items() if create_at <= cursor[0][0] and post_id not in saved]


async def test_the_cursor_never_passes_an_alert_post_before_it_is_saved(world, tmp_path, run_bot):
    await run_bot(load_config(storm_config(world, tmp_path), {"TEST_BOT_TOKEN": world.bot_token}))
    storm = Storm(world)
    created: dict[str, int] = {}
    for _ in range(30):
        first = len(storm.post_ids)
        await storm.send(100)
        created.update((post_id, world.sandbox.core.state.posts[post_id]["create_at"])
                       for post_id in storm.post_ids[first:])
        for _ in range(3):
            await asyncio.sleep(0.05)
            assert unsaved_posts_behind_the_cursor(tmp_path, world.alerts["id"], created) == []
    await eventually(lambda: handled(tmp_path) >= len(storm.post_ids), timeout=60, interval=0.1)
    await asyncio.sleep(0.7)   # the cursor's next save
    assert unsaved_posts_behind_the_cursor(tmp_path, world.alerts["id"], created) == []
    [(cursor,)] = query(tmp_path, "SELECT last_update_at FROM channel_cursors WHERE channel_id = ?",
                        (world.alerts["id"],))
    assert cursor >= max(created.values()), "once everything is saved, the cursor moves on"


async def test_killed_twice_during_a_storm_every_alert_post_is_handled_once(world, tmp_path):
    # Fewer than 1000 posts in all: one catch-up query returns at most 1000 (Mattermost's `since` limit).
    storm = Storm(world)
    process = await started(world, tmp_path)
    try:
        await storm.send(600)
        await eventually(lambda: handled(tmp_path) >= 200, timeout=30, interval=0.01)
        await storm.send(50)     # some are surely still on their way when it dies
        await kill(process)
        assert handled(tmp_path) < len(storm.post_ids), "the kill should come in the middle of the storm"

        await storm.send(200)    # while the bot is dead: read by the catch-up
        process = await started(world, tmp_path)
        before = handled(tmp_path)
        await eventually(lambda: handled(tmp_path) >= before + 100, timeout=30, interval=0.01)
        await storm.send(20)
        await kill(process)      # again, while it catches up
        assert handled(tmp_path) < len(storm.post_ids)

        process = await started(world, tmp_path)
        await eventually(lambda: handled(tmp_path) >= len(storm.post_ids), timeout=60, interval=0.1)
        await asyncio.sleep(1.0)   # a post handled twice would show by now
    finally:
        await stop(process)

    explained = query(tmp_path, "SELECT post_id FROM alert_posts")
    assert sorted(post_id for (post_id,) in explained) == sorted(storm.post_ids)
    # Each post counted once on its incident and noted once on its timeline.
    [(counted,)] = query(tmp_path, "SELECT SUM(count) FROM incident_alerts")
    assert counted == len(storm.post_ids)
    [(noted,)] = query(tmp_path, "SELECT COUNT(*) FROM timeline WHERE kind IN ('alert_received', 'alert_joined', "
                                 "'alert_repeated', 'alert_resolved', 'alert_flapped')")
    assert noted == len(storm.post_ids)
    # One incident per alert name, never two for one group.
    groups = query(tmp_path, "SELECT alert_group FROM incidents")
    assert sorted(group for (group,) in groups) == sorted(f'page{{alertname="{name}"}}' for name in ALERT_NAMES)


async def test_a_command_is_answered_while_a_storm_is_still_being_worked_through(world, tmp_path):
    storm = Storm(world)
    process = await started(world, tmp_path)
    try:
        await storm.send(4000)
        command = world.say(world.alice, world.town, "@incident-bot help")
        asked_at = time.monotonic()
        await eventually(lambda: world.replies_to(command), timeout=30, interval=0.01)
        answered_in = time.monotonic() - asked_at
        behind = len(storm.post_ids) - handled(tmp_path)
        await eventually(lambda: handled(tmp_path) >= len(storm.post_ids), timeout=60, interval=0.1)
    finally:
        await stop(process)
    # Not held up behind the thousands of alert posts that came before it.
    assert behind > 0 or answered_in < 2.0, (behind, answered_in)
    assert answered_in < 5.0
