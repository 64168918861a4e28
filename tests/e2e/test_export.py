"""Exporting an incident from chat: every post of a long channel once, secrets redacted, uploaded as a file."""
from __future__ import annotations

import csv
import io
import json

from tests.conftest import World, eventually
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident

SECRETS = ("alice.ops@example.com", "10.20.30.40", "Bearer sk3cr3tt0k3n", "AKIAIOSFODNN7EXAMPLE",
           "https://deploy:hunter2@git.example.com/app")


def exported(world: World, reply: dict) -> bytes:
    return world.sandbox.core.state.file_data[reply["file_ids"][0]]


async def test_export_contains_every_post_once_redacted_in_three_formats(world, run_bot):
    await run_bot()
    _, channel = await open_incident(world)
    for number in range(2500):                      # a long channel, put there directly (no bot involvement)
        secret = f" see {SECRETS[number % len(SECRETS)]}" if number % 250 == 0 else ""
        world.sandbox.post(world.alice["id"], channel["id"], f"observation {number:04d}{secret}")
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot export json")
    assert "exported as json" in reply["message"] and "redaction" in reply["message"]
    document = json.loads(exported(world, reply))
    texts = [m["message"] for m in document["messages"]]
    observations = [t for t in texts if t.startswith("observation")]
    assert len(observations) == 2500 and len(set(observations)) == 2500
    raw = exported(world, reply).decode()
    assert not any(secret in raw for secret in ("alice.ops@example.com", "10.20.30.40", "sk3cr3tt0k3n",
                                                 "AKIAIOSFODNN7EXAMPLE", "hunter2"))
    assert document["incident"]["key"] == "INC-1" and document["timeline"]

    reply = await command_and_reply(world, world.alice, channel, "@incident-bot export csv")
    rows = list(csv.DictReader(io.StringIO(exported(world, reply).decode())))
    assert sum(1 for row in rows if row["text"].startswith("observation")) == 2500
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot export")
    markdown = exported(world, reply).decode()
    assert "observation 2499" in markdown and "hunter2" not in markdown
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot export pdf")
    assert "md, json or csv" in reply["message"]


async def test_the_command_line_exports_an_incident_and_a_period(world, run_bot, tmp_path):
    from tests.e2e.test_cli import run_cli

    runner = await run_bot()
    _, channel = await open_incident(world)
    world.sandbox.post(world.alice["id"], channel["id"], "token: Bearer abcdef123456 from ops@example.com")
    await eventually(lambda: len(world.sandbox.posts(channel["id"])) >= 3)
    config = world.config_file(tmp_path)
    env = {"TEST_BOT_TOKEN": world.bot_token}
    code, _, err = await run_cli("export", "INC-1", "--config", str(config), "--format", "md",
                                 "--out", str(tmp_path / "inc.md"), env=env)
    assert code == 0, err
    text = (tmp_path / "inc.md").read_text()
    assert "INC-1" in text and "abcdef123456" not in text and "ops@example.com" not in text
    code, _, err = await run_cli("export", "--since", "7d", "--config", str(config),
                                 "--out", str(tmp_path / "all.jsonl"), env=env)
    assert code == 0, err
    (line,) = (tmp_path / "all.jsonl").read_text().splitlines()
    assert json.loads(line)["incident"]["key"] == "INC-1"
    assert runner.task is not None
