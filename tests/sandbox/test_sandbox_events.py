"""Membership, channel and direct-message events, and the seeding API's effects."""
from __future__ import annotations

import asyncio
import json

import requests

from sandbox_helpers import connect_ws, next_frame, wait_event


def api(sandbox, method: str, path: str, token: str, **kw) -> requests.Response:
    """Call the REST API as the token's user."""
    return requests.request(method, f"{sandbox.url}/api/v4{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=5, **kw)


async def test_direct_message_events(sandbox, world):
    async with await connect_ws(sandbox, world.bob_token) as ws:
        await next_frame(ws)
        created = await asyncio.to_thread(api, sandbox, "POST", "/channels/direct", world.alice_token,
                                          json=[world.alice["id"], world.bob["id"]])
        assert created.status_code == 201
        dm = created.json()
        assert dm["type"] == "D" and dm["team_id"] == ""
        added = await wait_event(ws, "direct_added")
        assert added["broadcast"]["channel_id"] == dm["id"]
        post = sandbox.post(world.alice["id"], dm["id"], "psst")
        event = await wait_event(ws, "posted", post["id"])
    assert event["data"]["team_id"] == "" and event["data"]["channel_type"] == "D"
    assert event["data"]["channel_display_name"] == "@alice"
    assert json.loads(event["data"]["mentions"]) == [world.bob["id"]]


async def test_membership_and_channel_update_events(sandbox, world):
    carol = sandbox.create_user("carol")
    sandbox.add_team_member(world.team["id"], carol["id"])
    carol_token = sandbox.create_token(carol["id"])
    async with await connect_ws(sandbox, world.bob_token) as bob_ws, \
            await connect_ws(sandbox, carol_token) as carol_ws:
        await next_frame(bob_ws)
        await next_frame(carol_ws)
        added = await asyncio.to_thread(api, sandbox, "POST", f"/channels/{world.channel['id']}/members",
                                        world.alice_token, json={"user_id": carol["id"]})
        assert added.status_code == 201 and added.json()["user_id"] == carol["id"]
        for_members = await wait_event(bob_ws, "user_added")
        assert for_members["data"]["user_id"] == carol["id"]
        assert for_members["broadcast"]["omit_users"] == {carol["id"]: True}
        for_added = await wait_event(carol_ws, "user_added")
        assert for_added["broadcast"]["user_id"] == carol["id"]
        patched = await asyncio.to_thread(api, sandbox, "PUT", f"/channels/{world.channel['id']}/patch",
                                          world.alice_token, json={"header": "SEV1: api down"})
        assert patched.status_code == 200 and patched.json()["header"] == "SEV1: api down"
        updated = await wait_event(bob_ws, "channel_updated")
        assert json.loads(updated["data"]["channel"])["header"] == "SEV1: api down"
    assert carol["id"] in sandbox.channel_members(world.channel["id"])
    types = [p["type"] for p in sandbox.posts(world.channel["id"])]
    assert types[-2:] == ["system_add_to_channel", "system_header_change"]


async def test_since_returns_edits_and_deletions(sandbox, world):
    first = sandbox.post(world.alice["id"], world.channel["id"], "one")
    second = sandbox.post(world.alice["id"], world.channel["id"], "two")
    since = second["create_at"]
    await asyncio.sleep(0.01)
    edited = await asyncio.to_thread(api, sandbox, "PUT", f"/posts/{first['id']}/patch", world.alice_token,
                                     json={"message": "one (edited)"})
    assert edited.json()["edit_at"] > 0
    deleted = await asyncio.to_thread(api, sandbox, "DELETE", f"/posts/{second['id']}", world.alice_token)
    assert deleted.json() == {"status": "OK"}
    listing = (await asyncio.to_thread(api, sandbox, "GET", f"/channels/{world.channel['id']}/posts?since={since}",
                                       world.alice_token)).json()
    assert set(listing["order"]) == {first["id"], second["id"]}
    assert listing["posts"][second["id"]]["delete_at"] > 0
    assert second["id"] not in [p["id"] for p in sandbox.posts(world.channel["id"])]


async def test_file_upload_and_attach(sandbox, world):
    upload = await asyncio.to_thread(api, sandbox, "POST", "/files", world.alice_token,
                                     files=[("channel_id", (None, world.channel["id"])),
                                            ("files", ("report.txt", b"timeline", "text/plain"))])
    assert upload.status_code == 201
    info = upload.json()["file_infos"][0]
    assert (info["name"], info["extension"], info["size"]) == ("report.txt", "txt", 8)
    created = await asyncio.to_thread(api, sandbox, "POST", "/posts", world.alice_token,
                                      json={"channel_id": world.channel["id"], "message": "report",
                                            "file_ids": [info["id"]]})
    assert created.json()["metadata"]["files"][0]["id"] == info["id"]
    content = await asyncio.to_thread(api, sandbox, "GET", f"/files/{info['id']}", world.bob_token)
    assert content.content == b"timeline"
