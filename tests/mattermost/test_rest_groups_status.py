"""MattermostRest.get_user_groups and get_user_status against the sandbox over a real socket."""
from __future__ import annotations

import asyncio

import pytest

from bot.mattermost import MattermostError, MattermostRest
from bot.sandbox import Sandbox

FAST = {"timeout": 2.0, "backoff_initial": 0.01, "backoff_max": 0.05}


async def test_the_bot_reads_another_users_custom_groups(world, rest):
    carol = world.sandbox.create_user("carol")
    oncall = world.sandbox.create_group("oncall", "On call", [world.alice["id"], carol["id"]])
    dba = world.sandbox.create_group("dba", "Databases", [world.alice["id"]])
    groups = await rest.get_user_groups(world.alice["id"])
    assert [g["id"] for g in groups] == [dba["id"], oncall["id"]]
    assert {g["source"] for g in groups} == {"custom"}
    assert [g["name"] for g in await rest.get_user_groups(carol["id"])] == ["oncall"]
    assert await rest.get_user_groups(world.bot["id"]) == []
    assert await rest.get_user_groups("x" * 26) == []


async def test_many_groups_come_back_page_by_page(world, rest):
    for n in range(205):
        world.sandbox.create_group(f"g{n:03d}", f"Group {n:03d}", [world.alice["id"]])
    groups = await rest.get_user_groups(world.alice["id"])
    assert len(groups) == 205 and len({g["id"] for g in groups}) == 205


@pytest.mark.parametrize("sku, expect_groups", [("professional", True), ("", False)])
async def test_the_licence_decides_whether_there_are_groups(sku, expect_groups):
    sandbox = Sandbox(license_sku=sku)
    url = await sandbox.start(port=0)
    try:
        _, token = sandbox.create_bot("incident-bot")
        alice = sandbox.create_user("alice")
        if expect_groups:
            sandbox.create_group("oncall", "On call", [alice["id"]])
        async with MattermostRest(url, token, **FAST) as client:
            groups = await client.get_user_groups(alice["id"])
        assert [g["name"] for g in groups] == (["oncall"] if expect_groups else [])
    finally:
        await sandbox.stop()


async def test_other_failures_still_raise(world, rest):
    world.sandbox.fail_next(10, status=500, path_prefix="/api/v4/groups")
    with pytest.raises(MattermostError) as caught:
        await rest.get_user_groups(world.alice["id"])
    assert caught.value.status == 500


async def test_statuses_follow_presence_and_manual_settings(world, rest):
    assert await rest.get_user_status(world.alice["id"]) == "offline"
    world.sandbox.set_status(world.alice["id"], "dnd")
    assert await rest.get_user_status(world.alice["id"]) == "dnd"
    world.sandbox.set_status(world.alice["id"], "away")
    assert await rest.get_user_status(world.alice["id"]) == "away"
    assert await rest.get_user_status("x" * 26) == "offline"   # the server answers offline for any id


async def test_the_bot_is_online_while_its_websocket_is_up(world, rest, start_listener):
    assert await rest.get_user_status(world.bot["id"]) == "offline"
    running = await start_listener()
    try:
        async with asyncio.timeout(3):
            while world.bot["id"] not in world.sandbox.core.hub.online_user_ids():
                await asyncio.sleep(0.02)
        assert await rest.get_user_status(world.bot["id"]) == "online"
    finally:
        await running.stop()


async def test_a_status_404_reads_as_offline(world, rest):
    world.sandbox.fail_next(1, status=404, path_prefix=f"/api/v4/users/{world.alice['id']}/status")
    assert await rest.get_user_status(world.alice["id"]) == "offline"
