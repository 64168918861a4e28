"""WebsocketListener against the sandbox over a real socket: hello, typed events, resume, resync, shutdown."""
from __future__ import annotations

import asyncio
import json

from bot.mattermost import Connected, PostChange, PostEvent, ReactionEvent, is_own_post
from bot.sandbox.events import Event as ServerEvent


def is_post(message: str):
    """Match the post event whose message is `message`."""
    return lambda e: isinstance(e, PostEvent) and e.post.message == message


# The sandbox only sends well-formed frames; these two reach into it to send what a broken or newer
# server might (through its hub, so such events still get proper seq numbers).
def publish(world, event: ServerEvent) -> None:
    world.sandbox.core.hub.publish(event)


async def send_raw(world, text: str) -> None:
    """Send a text frame as is to the bot's live websocket, outside the seq numbering."""
    conn = next(c for c in world.sandbox.core.hub.conns.values() if c.user_id == world.bot["id"] and c.active)
    await conn.socket.send_str(text)


async def test_first_hello_gives_connected_not_resumed(world, start_listener):
    running = await start_listener()
    event = await running.next()
    assert isinstance(event, Connected) and event.resumed is False
    assert event.user_id == world.bot["id"] == running.listener.user_id
    assert event.connection_id and event.connection_id == running.listener.connection_id
    assert running.listener.connected.is_set()


async def test_posted_event_is_typed(world, start_listener, rest):
    running = await start_listener()
    await running.next(lambda e: isinstance(e, Connected))
    world.sandbox.post(world.alice["id"], world.channel["id"], "@incident-bot new sev2", props={"k": "v"})
    event = await running.next(is_post("@incident-bot new sev2"))
    assert event.change is PostChange.POSTED
    assert (event.post.user_id, event.post.channel_id) == (world.alice["id"], world.channel["id"])
    assert event.post.props == {"k": "v"}
    assert (event.channel_type, event.channel_name, event.team_id) == ("O", "alerts", world.team["id"])
    assert event.sender_name == "@alice"
    assert not is_own_post(event, running.listener.user_id)

    mine = await rest.create_post(world.channel["id"], "ack from the bot")
    own = await running.next(is_post("ack from the bot"))
    assert own.post.id == mine.id and is_own_post(own, running.listener.user_id)

    await rest.patch_post(mine.id, message="ack from the bot (edited)")
    edited = await running.next(lambda e: isinstance(e, PostEvent) and e.change is PostChange.EDITED)
    assert edited.post.id == mine.id and edited.post.message == "ack from the bot (edited)"

    await rest.add_reaction(world.bot["id"], mine.id, "eyes")
    reaction = await running.next(lambda e: isinstance(e, ReactionEvent))
    assert (reaction.added, reaction.post_id, reaction.emoji_name) == (True, mine.id, "eyes")


async def test_drop_resumes_and_replays_the_missed_post_once(world, start_listener):
    running = await start_listener(backoff_initial=0.4, backoff_max=0.4)
    first = await running.next(lambda e: isinstance(e, Connected))
    world.sandbox.post(world.alice["id"], world.channel["id"], "before the drop")
    await running.next(is_post("before the drop"))

    world.sandbox.drop_websockets(world.bot["id"])
    await asyncio.sleep(0.05)
    world.sandbox.post(world.alice["id"], world.channel["id"], "while disconnected")

    again = await running.next(lambda e: isinstance(e, Connected))
    assert again.resumed is True and again.connection_id == first.connection_id
    await running.next(is_post("while disconnected"))
    world.sandbox.post(world.alice["id"], world.channel["id"], "after the resume")
    await running.next(is_post("after the resume"))
    later = running.drain()
    assert not any(isinstance(e, PostEvent) and e.post.message == "while disconnected" for e in later)


async def test_drop_that_cannot_resume_gives_connected_not_resumed(world, start_listener):
    running = await start_listener()
    first = await running.next(lambda e: isinstance(e, Connected))
    world.sandbox.drop_websockets(world.bot["id"], forget=True)
    again = await running.next(lambda e: isinstance(e, Connected))
    assert again.resumed is False and again.connection_id != first.connection_id
    world.sandbox.post(world.alice["id"], world.channel["id"], "on the new connection")
    await running.next(is_post("on the new connection"))


async def test_odd_frames_do_not_stop_the_loop(world, start_listener):
    running = await start_listener()
    await running.next(lambda e: isinstance(e, Connected))
    weird_props = {"attachments": "not a list", "from_bot": 1, "nested": [None, {"x": [1, 2]}]}
    world.sandbox.post(world.alice["id"], world.channel["id"], "weird props", props=weird_props)
    weird = await running.next(is_post("weird props"))
    assert weird.post.props["attachments"] == "not a list"

    channel_id = world.channel["id"]
    await send_raw(world, "this is not json")
    await send_raw(world, "[1, 2, 3]")
    publish(world, ServerEvent("posted", {"post": "{broken json"}, channel_id=channel_id))
    publish(world, ServerEvent("posted", {"post": json.dumps({"id": "p" * 26, "message": 42, "props": [1],
                                                              "user_id": None, "channel_id": channel_id})},
                               channel_id=channel_id))
    publish(world, ServerEvent("reaction_added", {"reaction": 42}, channel_id=channel_id))
    publish(world, ServerEvent("some_future_event", {"x": {"y": [None]}}, channel_id=channel_id))
    world.sandbox.post(world.alice["id"], channel_id, "normal after weird")

    wrong_types = await running.next(lambda e: isinstance(e, PostEvent) and e.post.id == "p" * 26)
    assert (wrong_types.post.message, wrong_types.post.props, wrong_types.post.user_id) == ("", {}, "")
    await running.next(is_post("normal after weird"))
    assert not running.task.done() and running.listener.connects == 1


async def test_sequence_gap_reconnects_and_resumes(world, start_listener):
    running = await start_listener()
    await running.next(lambda e: isinstance(e, Connected))
    expected = running.listener.expected_seq
    await send_raw(world, json.dumps({"event": "posted", "data": {}, "broadcast": {}, "seq": expected + 5}))
    again = await running.next(lambda e: isinstance(e, Connected))
    assert again.resumed is True and running.listener.connects == 2
    world.sandbox.post(world.alice["id"], world.channel["id"], "after the gap")
    await running.next(is_post("after the gap"))


async def test_idle_link_is_detected_and_resumed(world, start_listener):
    # No pings and a short watchdog: a silent server counts as a dead link.
    running = await start_listener(ping_interval=None, idle_timeout=0.3)
    await running.next(lambda e: isinstance(e, Connected))
    again = await running.next(lambda e: isinstance(e, Connected), timeout=3)
    assert again.resumed is True and running.listener.connects >= 2
    world.sandbox.post(world.alice["id"], world.channel["id"], "still listening")
    await running.next(is_post("still listening"))


async def test_cancellation_shuts_down_cleanly(world, start_listener):
    running = await start_listener()
    await running.next(lambda e: isinstance(e, Connected))
    running.task.cancel()
    async with asyncio.timeout(2):
        await asyncio.gather(running.task, return_exceptions=True)
    assert running.task.cancelled()
    assert not running.listener.connected.is_set()
