"""The websocket protocol with the `websockets` client: hello, posted, mentions, actions, resume."""
from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import requests
import websockets

from bot.sandbox import Sandbox

from sandbox_helpers import connect_ws, next_frame, port_of, wait_event, ws_url


def rest_post(sandbox, token: str, channel_id: str, message: str) -> dict:
    """Create a post over REST (in a thread, so the event loop keeps serving)."""
    response = requests.post(f"{sandbox.url}/api/v4/posts", json={"channel_id": channel_id, "message": message},
                             headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


async def test_hello_then_posted_for_a_rest_post(sandbox, world):
    async with await connect_ws(sandbox, world.bob_token) as ws:
        hello = await next_frame(ws)
        assert hello["event"] == "hello" and hello["seq"] == 0
        assert hello["broadcast"]["user_id"] == world.bob["id"]
        assert len(hello["data"]["connection_id"]) == 26
        post = await asyncio.to_thread(rest_post, sandbox, world.alice_token, world.channel["id"], "@bob db is down")
        event = await wait_event(ws, "posted", post["id"])
    data = event["data"]
    assert event["seq"] >= 1 and event["broadcast"]["channel_id"] == world.channel["id"]
    assert json.loads(data["post"])["message"] == "@bob db is down"
    assert json.loads(data["mentions"]) == [world.bob["id"]]
    assert data["sender_name"] == "@alice" and data["channel_type"] == "O"
    assert data["channel_display_name"] == "Incidents" and data["team_id"] == world.team["id"]
    assert data["set_online"] is True


async def test_sender_gets_its_own_post_without_mentions(sandbox, world):
    async with await connect_ws(sandbox, world.alice_token) as ws:
        await next_frame(ws)
        post = sandbox.post(world.alice["id"], world.channel["id"], "@bob look")
        event = await wait_event(ws, "posted", post["id"])
    assert "mentions" not in event["data"]


async def test_non_members_receive_nothing_from_the_channel(sandbox, world):
    outsider = sandbox.create_user("eve")
    sandbox.add_team_member(world.team["id"], outsider["id"])
    async with await connect_ws(sandbox, sandbox.create_token(outsider["id"])) as ws:
        await next_frame(ws)
        sandbox.post(world.alice["id"], world.channel["id"], "members only")
        mine = sandbox.create_channel(world.team["id"], "eve-room", "Eve", creator_id=outsider["id"])
        sentinel = sandbox.post(outsider["id"], mine["id"], "sentinel")
        frames = []
        while True:
            frame = await next_frame(ws)
            frames.append(frame)
            if frame.get("event") == "posted" and json.loads(frame["data"]["post"])["id"] == sentinel["id"]:
                break
    assert not [f for f in frames if f["broadcast"]["channel_id"] == world.channel["id"]]


async def test_pin_and_reaction_events(sandbox, world):
    post = sandbox.post(world.alice["id"], world.channel["id"], "pin me")
    headers = {"Authorization": f"Bearer {world.bob_token}"}
    async with await connect_ws(sandbox, world.alice_token) as ws:
        await next_frame(ws)
        await asyncio.to_thread(requests.post, f"{sandbox.url}/api/v4/posts/{post['id']}/pin", headers=headers)
        edited = await wait_event(ws, "post_edited", post["id"])
        assert json.loads(edited["data"]["post"])["is_pinned"] is True
        await asyncio.to_thread(requests.post, f"{sandbox.url}/api/v4/reactions", headers=headers,
                                json={"user_id": world.bob["id"], "post_id": post["id"], "emoji_name": "fire"})
        reaction = await wait_event(ws, "reaction_added")
        assert json.loads(reaction["data"]["reaction"])["emoji_name"] == "fire"


async def test_actions_ping_unknown_and_bad_json(sandbox, world):
    async with await connect_ws(sandbox, world.alice_token) as ws:
        await next_frame(ws)
        await ws.send(json.dumps({"seq": 1, "action": "ping"}))
        pong = await next_frame(ws)
        assert pong["status"] == "OK" and pong["seq_reply"] == 1 and pong["data"]["text"] == "pong"
        assert "seq" not in pong
        await ws.send(json.dumps({"seq": 2, "action": "no_such_action"}))
        failure = await next_frame(ws)
        assert failure["status"] == "FAIL" and failure["error"]["status_code"] == 500
        assert failure["error"]["id"] == "api.web_socket_router.bad_action.app_error"
        await ws.send("{not json")
        await asyncio.wait_for(ws.wait_closed(), 3)


async def test_authentication_challenge(sandbox, world):
    async with websockets.connect(ws_url(sandbox)) as ws:
        await ws.send(json.dumps({"seq": 1, "action": "authentication_challenge",
                                  "data": {"token": world.bob_token}}))
        frames = [await next_frame(ws), await next_frame(ws)]
    hello = next(f for f in frames if f.get("event") == "hello")
    assert hello["seq"] == 0 and hello["broadcast"]["user_id"] == world.bob["id"]
    assert {"status": "OK", "seq_reply": 1} in frames


async def test_resume_replays_missed_events(sandbox, world):
    ws = await connect_ws(sandbox, world.bob_token)
    hello = await next_frame(ws)
    connection_id = hello["data"]["connection_id"]
    first = sandbox.post(world.alice["id"], world.channel["id"], "before the drop")
    seen = await wait_event(ws, "posted", first["id"])
    sandbox.drop_websockets(world.bob["id"])
    await asyncio.wait_for(ws.wait_closed(), 3)
    missed = [sandbox.post(world.alice["id"], world.channel["id"], f"missed {i}")["id"] for i in range(3)]
    query = f"connection_id={connection_id}&sequence_number={seen['seq'] + 1}"
    async with await connect_ws(sandbox, world.bob_token, query) as ws:
        frames = [await next_frame(ws) for _ in missed]
    assert [f["event"] for f in frames] == ["posted"] * 3
    assert [json.loads(f["data"]["post"])["id"] for f in frames] == missed
    assert [f["seq"] for f in frames] == [seen["seq"] + 1 + i for i in range(3)]


async def test_resume_from_the_dead_queue(sandbox, world):
    ws = await connect_ws(sandbox, world.bob_token)
    hello = await next_frame(ws)
    posts = [sandbox.post(world.alice["id"], world.channel["id"], f"m{i}")["id"] for i in range(3)]
    frames = [await wait_event(ws, "posted", p) for p in posts]
    await ws.close()
    query = f"connection_id={hello['data']['connection_id']}&sequence_number={frames[1]['seq']}"
    async with await connect_ws(sandbox, world.bob_token, query) as ws:
        replayed = [await next_frame(ws) for _ in range(2)]
    assert [f["seq"] for f in replayed] == [frames[1]["seq"], frames[2]["seq"]]


async def test_forgotten_connection_gets_a_fresh_hello(sandbox, world):
    ws = await connect_ws(sandbox, world.bob_token)
    hello = await next_frame(ws)
    sandbox.drop_websockets(forget=True)
    await asyncio.wait_for(ws.wait_closed(), 3)
    sandbox.post(world.alice["id"], world.channel["id"], "lost while away")
    async with await connect_ws(sandbox, world.bob_token,
                                f"connection_id={hello['data']['connection_id']}&sequence_number=1") as ws:
        fresh = await next_frame(ws)
    assert fresh["event"] == "hello" and fresh["seq"] == 0
    assert fresh["data"]["connection_id"] != hello["data"]["connection_id"]


async def test_resume_with_a_gap_restarts_with_a_new_connection_id(sandbox, world):
    ws = await connect_ws(sandbox, world.bob_token)
    hello = await next_frame(ws)
    await ws.close()
    query = f"connection_id={hello['data']['connection_id']}&sequence_number=50"
    async with await connect_ws(sandbox, world.bob_token, query) as ws:
        fresh = await next_frame(ws)
    assert fresh["event"] == "hello" and fresh["seq"] == 0
    assert fresh["data"]["connection_id"] != hello["data"]["connection_id"]


async def test_slow_reader_is_closed_without_blocking_others(sandbox, world):
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port_of(sandbox)))
    raw.setblocking(False)
    slow = await websockets.connect(ws_url(sandbox), sock=raw, max_queue=1, close_timeout=0.2,
                                    additional_headers={"Authorization": f"Bearer {world.bob_token}"})
    async with await connect_ws(sandbox, world.alice_token) as fast:
        await next_frame(fast)
        seen: list[str] = []

        async def read_fast() -> None:
            async for raw_frame in fast:
                frame = json.loads(raw_frame)
                if frame.get("event") == "posted":
                    seen.append(json.loads(frame["data"]["post"])["id"])

        reader = asyncio.create_task(read_fast())
        big = "x" * 16000
        posted = []
        for i in range(1000):
            posted.append(sandbox.post(world.alice["id"], world.channel["id"], f"{i} {big}")["id"])
            if i % 10 == 0:
                await asyncio.sleep(0)
        for _ in range(200):
            if len(seen) == len(posted):
                break
            await asyncio.sleep(0.05)
        reader.cancel()
    assert seen == posted
    assert not [c for c in sandbox.core.hub.conns.values() if c.user_id == world.bob["id"]]
    await slow.close()


async def test_server_pings_and_closes_unauthenticated_sockets():
    sandbox = Sandbox(ws_ping_interval=0.2, ws_auth_timeout=0.3)
    await sandbox.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url(sandbox), autoping=False,
                                          headers={"Authorization": f"Bearer {sandbox.admin_token}"}) as ws:
                assert json.loads((await ws.receive(timeout=2)).data)["event"] == "hello"
                assert (await ws.receive(timeout=2)).type == aiohttp.WSMsgType.PING
        async with websockets.connect(ws_url(sandbox)) as anonymous:
            await asyncio.wait_for(anonymous.wait_closed(), 2)
    finally:
        await sandbox.stop()
