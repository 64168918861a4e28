"""The `incident-bot` command as a user runs it: clear messages for mistakes, and a working demo."""
from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import ROOT, World


async def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=str(ROOT),
        env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


async def test_a_config_mistake_is_reported_with_file_line_and_key(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("mattermost:\n  url: chat.example.com\n  token: ${NO_SUCH_VARIABLE}\n  team: ops\n"
                      "storage:\n  path: bot.sqlite\nplaybooks:\n  dir: playbooks\n")
    code, _, err = await run_cli("run", "--config", str(config))
    assert code == 2
    assert f"{config}:2:3: mattermost.url: must be an http:// or https:// URL" in err
    assert f"{config}:3:3: mattermost.token: environment variable NO_SUCH_VARIABLE is not set" in err
    assert "Traceback" not in err


async def test_a_refused_token_or_unknown_team_stops_the_bot_with_a_clear_message(world: World, tmp_path):
    config = world.config_file(tmp_path)
    code, _, err = await run_cli("run", "--config", str(config), env={"TEST_BOT_TOKEN": "x" * 26})
    assert code == 2 and "mattermost.token: Mattermost refused the token" in err and "Traceback" not in err

    config.write_text(config.read_text().replace("team: ops", "team: nope"))
    code, _, err = await run_cli("run", "--config", str(config), env={"TEST_BOT_TOKEN": world.bot_token})
    assert code == 2 and "mattermost.team: no team named 'nope'" in err and "Traceback" not in err


async def test_the_demo_plays_a_whole_incident():
    code, out, err = await run_cli("demo", "--no-wait")
    assert code == 0, err
    for expected in ("@incident-bot start Checkout API returns 500s sev2", "Opened **INC-1",
                     "@bob acknowledged **INC-1**", "Status update", "| 2026.11.3 | today 09:12 | dana |",
                     "Roll **checkout** back to **2026.11.2**?", "(@alice clicks Confirm)",
                     "Rollback of **checkout** to **2026.11.2** started (deploy rb-1)", "@bob resolved **INC-1**",
                     "Timeline of INC-1", "don't know the command `dance`", "admin token"):
        assert expected in out
