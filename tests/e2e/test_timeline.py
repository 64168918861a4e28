"""Curating the timeline from chat: pins, reactions and notes; filtering and paging it."""
from __future__ import annotations

import aiohttp

from tests.conftest import World, eventually, eventually_async
from tests.e2e.test_incident_lifecycle import command_and_reply, open_incident, timeline_kinds


async def call(world: World, user: dict, method: str, path: str, body: dict | None = None) -> None:
    token = world.sandbox.create_token(user["id"])
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.request(method, f"{world.sandbox.url}/api/v4{path}", json=body) as response:
            assert response.status in (200, 201), await response.text()


async def test_pins_reactions_and_notes_curate_the_timeline(world, run_bot, tmp_path):
    await run_bot()
    _, channel = await open_incident(world)
    db_file = tmp_path / "state" / "bot.sqlite"
    finding = world.say(world.alice, channel, "The 500s started right after deploy 2026.11.3")
    await call(world, world.alice, "POST", f"/posts/{finding['id']}/pin")
    await eventually_async(lambda: _has(db_file, "highlight"))
    await call(world, world.alice, "POST", f"/posts/{finding['id']}/unpin")
    await eventually_async(lambda: _lacks(db_file, "highlight"))

    clue = world.say(world.alice, channel, "CDN error rate is normal")
    await call(world, world.alice, "POST", "/reactions",
               {"user_id": world.alice["id"], "post_id": clue["id"], "emoji_name": "memo"})
    await eventually_async(lambda: _has(db_file, "highlight"))
    reply = await command_and_reply(world, world.alice, channel, "@incident-bot note rolled back at 14:05")
    assert "Noted on INC-1's timeline" in reply["message"]

    shown = await command_and_reply(world, world.alice, channel, "@incident-bot timeline --type pin")
    assert "CDN error rate is normal" in shown["message"] and "deploy 2026.11.3" not in shown["message"]
    shown = await command_and_reply(world, world.alice, channel, "@incident-bot timeline --type note --by @alice")
    assert "rolled back at 14:05" in shown["message"] and "Incident opened" not in shown["message"]
    shown = await command_and_reply(world, world.alice, channel, "@incident-bot timeline --by @bob")
    assert "Nothing matches" in shown["message"]
    shown = await command_and_reply(world, world.alice, channel, "@incident-bot timeline --page 9")
    assert "1 page(s)" in shown["message"]
    shown = await command_and_reply(world, world.alice, channel, "@incident-bot timeline --colour red")
    assert "do not understand" in shown["message"]


async def _has(db_file, kind: str) -> bool:
    return kind in await timeline_kinds(db_file)


async def _lacks(db_file, kind: str) -> bool:
    return kind not in await timeline_kinds(db_file)


async def test_a_long_timeline_is_paged(world, run_bot):
    await run_bot()
    _, channel = await open_incident(world)
    for number in range(30):
        world.say(world.alice, channel, f"@incident-bot note observation {number}")
    await eventually(lambda: len([p for p in world.bot_posts(channel["id"]) if "Noted on" in p["message"]]) == 30,
                     timeout=20)
    first = await command_and_reply(world, world.alice, channel, "@incident-bot timeline")
    assert "(page 1 of 2)" in first["message"] and "timeline --page 2" in first["message"]
    second = await command_and_reply(world, world.alice, channel, "@incident-bot timeline --page 2")
    assert "observation 29" in second["message"] and "observation 0" not in second["message"]
