"""MattermostRest against the sandbox over a real socket: calls, errors, retries, 429s and pacing."""
from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from bot.mattermost import CHANNEL_EXISTS, NO_RESPONSE, MattermostError, MattermostRest, Post

FAST = {"timeout": 2.0, "backoff_initial": 0.01, "backoff_max": 0.05}


def stored_messages(world, prefix: str) -> list[str]:
    """The messages of the channel's stored posts that start with `prefix` (system posts left out)."""
    posts = world.sandbox.posts(world.channel["id"])
    return [p["message"] for p in posts if not p["type"] and p["message"].startswith(prefix)]


class LoseAnswers(httpx.AsyncBaseTransport):
    """Send requests to the server for real, but lose the answer to the first `count` matching ones."""

    def __init__(self, method: str, path: str, count: int = 1) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.method, self.path, self.count = method, path, count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.count and (request.method, request.url.path) == (self.method, self.path):
            self.count -= 1
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def lossy_client(world, method: str, path: str) -> MattermostRest:
    """A bot client whose first answer to `method path` is lost after the server acted on it."""
    return MattermostRest(world.url, world.bot_token, transport=LoseAnswers(method, path), **FAST)


async def test_lookups_return_dicts_and_none_for_404(world, rest):
    me = await rest.me()
    assert me["id"] == world.bot["id"] and rest.user_id == world.bot["id"]

    assert (await rest.get_user(world.alice["id"]))["username"] == "alice"
    assert (await rest.get_user_by_username("@alice"))["id"] == world.alice["id"]
    found = await rest.get_users_by_usernames(["alice", "incident-bot", "nobody"])
    assert {u["id"] for u in found} == {world.alice["id"], world.bot["id"]}
    assert (await rest.get_team_by_name("ops"))["id"] == world.team["id"]
    assert (await rest.get_channel(world.channel["id"]))["name"] == "alerts"
    assert (await rest.get_channel_by_name(world.team["id"], "alerts"))["id"] == world.channel["id"]

    assert await rest.get_user("x" * 26) is None
    assert await rest.get_user_by_username("nobody") is None
    assert await rest.get_team_by_name("nope") is None
    assert await rest.get_channel("y" * 26) is None
    assert await rest.get_channel_by_name(world.team["id"], "no-such-channel") is None
    assert await rest.get_post("z" * 26) is None


async def test_user_by_email_ignores_case_and_is_none_when_unknown(world, rest):
    carol = world.sandbox.create_user("carol", email="carol+oncall@example.com")
    found = await rest.get_user_by_email(" Carol+OnCall@Example.com ")
    assert found is not None and found["id"] == carol["id"]
    assert (await rest.get_user_by_email(world.alice["email"]))["username"] == "alice"
    assert await rest.get_user_by_email("nobody@example.com") is None


async def test_channels_create_patch_members_and_direct(world, rest):
    channel = await rest.create_channel(
        world.team["id"], "inc-1-db-down", "INC-1 DB down", private=True, purpose="db", header="sev2"
    )
    assert channel["type"] == "P" and channel["name"] == "inc-1-db-down"

    patched = await rest.patch_channel(channel["id"], header="sev1 | commander @alice")
    assert patched["header"] == "sev1 | commander @alice" and patched["purpose"] == "db"

    await rest.add_channel_member(channel["id"], world.alice["id"])
    await rest.add_channel_member(channel["id"], world.alice["id"])  # twice is harmless
    members = {m["user_id"] for m in await rest.get_channel_members(channel["id"])}
    assert members == {world.bot["id"], world.alice["id"]}

    direct = await rest.create_direct_channel(world.bot["id"], world.alice["id"])
    again = await rest.create_direct_channel(world.alice["id"], world.bot["id"])
    assert direct["type"] == "D" and again["id"] == direct["id"]

    mine = {c["id"] for c in await rest.get_my_channels(world.team["id"])}
    assert {channel["id"], world.channel["id"]} <= mine


async def test_duplicate_channel_raises_parsed_error(world, rest):
    with pytest.raises(MattermostError) as caught:
        await rest.create_channel(world.team["id"], "alerts", "Alerts again")
    error = caught.value
    assert (error.status, error.error_id, error.after_retry) == (400, CHANNEL_EXISTS, False)
    assert error.message and error.request_id


async def test_channel_create_retried_after_lost_response_resolves_to_existing(world, rest):
    # The server creates the channel but its answer is lost; the retry is told "exists" and looks it up.
    async with lossy_client(world, "POST", "/api/v4/channels") as lossy:
        channel = await lossy.create_channel(world.team["id"], "inc-2", "INC-2")
    assert channel["name"] == "inc-2"
    assert (await rest.get_channel_by_name(world.team["id"], "inc-2"))["id"] == channel["id"]
    assert lossy.stats.retries == 1
    assert [s for m, p, s in world.sandbox.request_log if p == "/api/v4/channels"] == [201, 400]


async def test_posts_create_reply_patch_pin_and_catch_up(world, rest):
    await rest.me()
    root = await rest.create_post(world.channel["id"], "INC-1 opened", props={"incident": 1})
    assert isinstance(root, Post)
    assert (root.channel_id, root.user_id, root.message) == (world.channel["id"], world.bot["id"], "INC-1 opened")
    assert root.props["incident"] == 1

    reply = await rest.create_post(world.channel["id"], "status: investigating", root_id=root.id)
    assert reply.root_id == root.id and reply.thread_id == root.id

    edited = await rest.patch_post(root.id, message="INC-1 (sev1) opened", props={"incident": 1, "sev": 1})
    assert edited.message == "INC-1 (sev1) opened" and edited.props["sev"] == 1 and edited.edit_at > 0

    await rest.pin_post(reply.id)
    assert (await rest.get_post(reply.id)).is_pinned

    since = root.create_at - 1
    caught_up = await rest.get_posts_since(world.channel["id"], since)
    ids = [p.id for p in caught_up]
    assert ids.index(root.id) < ids.index(reply.id)  # oldest first
    assert next(p for p in caught_up if p.id == root.id).message == "INC-1 (sev1) opened"
    assert await rest.get_posts_since(world.channel["id"], max(p.update_at for p in caught_up)) == []


async def test_reaction_and_file_upload(world, rest):
    post = await rest.create_post(world.channel["id"], "ack?")
    reaction = await rest.add_reaction(world.bot["id"], post.id, ":eyes:")
    assert reaction["emoji_name"] == "eyes" and reaction["post_id"] == post.id

    file_id = await rest.upload_file(world.channel["id"], "timeline.csv", b"t,event\n0,opened\n")
    assert file_id
    with_file = await rest.create_post(world.channel["id"], "timeline attached", file_ids=[file_id])
    assert with_file.file_ids == (file_id,)


async def test_errors_are_parsed_from_app_error_json(world, rest):
    closed = world.sandbox.create_channel(world.team["id"], "private-ops", "Private ops", type="P")
    with pytest.raises(MattermostError) as caught:
        await rest.create_post(closed["id"], "not a member here")
    assert caught.value.status == 403 and caught.value.error_id == "api.context.permissions.app_error"

    async with MattermostRest(world.url, "not-a-token", **FAST) as stranger:
        with pytest.raises(MattermostError) as caught:
            await stranger.me()
    assert caught.value.status == 401 and caught.value.error_id == "api.context.session_expired.app_error"


async def test_server_errors_are_retried_with_backoff(world, rest):
    world.sandbox.fail_next(2, status=503, path_prefix="/api/v4/posts")
    post = await rest.create_post(world.channel["id"], "survives two 503s")
    assert rest.stats.retries == 2
    assert [p["id"] for p in world.sandbox.posts(world.channel["id"])].count(post.id) == 1

    world.sandbox.fail_next(1, status=502)
    assert (await rest.get_channel(world.channel["id"]))["id"] == world.channel["id"]


async def test_server_errors_give_up_after_bounded_attempts(world):
    async with MattermostRest(world.url, world.bot_token, max_attempts=3, **FAST) as client:
        world.sandbox.fail_next(10, status=500)
        with pytest.raises(MattermostError) as caught:
            await client.get_channel(world.channel["id"])
        assert caught.value.status == 500 and client.stats.requests == 3


async def test_unreachable_server_raises_no_response_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with MattermostRest(f"http://127.0.0.1:{port}", "t", max_attempts=2, **FAST) as client:
        with pytest.raises(MattermostError) as caught:
            await client.me()
    assert caught.value.status == NO_RESPONSE and client.stats.requests == 2


async def test_pending_post_id_makes_a_retried_create_return_the_same_post(world, rest):
    first = await rest.create_post(world.channel["id"], "once", pending_post_id="bot:1700000000000")
    second = await rest.create_post(world.channel["id"], "once", pending_post_id="bot:1700000000000")
    assert first.id == second.id

    # A lost answer: the server stores the post, the client never hears of it and sends it again.
    async with lossy_client(world, "POST", "/api/v4/posts") as lossy:
        post = await lossy.create_post(world.channel["id"], "exactly once please")
    assert lossy.stats.retries == 1
    assert [s for m, p, s in world.sandbox.request_log if p == "/api/v4/posts"][-2:] == [201, 201]
    assert stored_messages(world, "once") == ["once"]
    stored = [p for p in world.sandbox.posts(world.channel["id"]) if p["message"] == "exactly once please"]
    assert [p["id"] for p in stored] == [post.id]


async def test_429_is_honoured_and_every_post_lands_once(world):
    world.sandbox.set_rate_limit(True, per_sec=50, burst=10)
    async with MattermostRest(world.url, world.bot_token, write_rate=None, **FAST) as client:
        posts = await asyncio.gather(*(client.create_post(world.channel["id"], f"storm {i}") for i in range(40)))
    assert client.stats.rate_limited > 0
    assert sorted(stored_messages(world, "storm ")) == sorted(f"storm {i}" for i in range(40))
    assert len({p.id for p in posts}) == 40


async def test_pacing_keeps_a_burst_of_150_posts_under_the_limit(world):
    world.sandbox.set_rate_limit(True, per_sec=100, burst=40)
    async with MattermostRest(world.url, world.bot_token, write_rate=80, write_burst=20, **FAST) as client:
        posts = await asyncio.gather(*(client.create_post(world.channel["id"], f"alert {i}") for i in range(150)))
    assert client.stats.rate_limited <= 2
    assert sorted(stored_messages(world, "alert ")) == sorted(f"alert {i}" for i in range(150))
    assert len({p.id for p in posts}) == 150


async def test_a_429_holds_back_the_other_requests_of_the_client(world):
    world.sandbox.set_rate_limit(True, per_sec=1, burst=1)
    async with MattermostRest(world.url, world.bot_token, write_rate=None, **FAST) as client:
        posting = asyncio.gather(*(client.create_post(world.channel["id"], f"p{i}") for i in range(3)))
        async with asyncio.timeout(3):
            while client.stats.rate_limited == 0:
                await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        channel = await client.get_channel(world.channel["id"])  # a read, and not itself limited yet
        waited = asyncio.get_running_loop().time() - started
        await posting
    assert channel["id"] == world.channel["id"]
    assert waited >= 0.5  # Retry-After is whole seconds: the read waited its turn with the post
    assert sorted(stored_messages(world, "p")) == ["p0", "p1", "p2"]


async def test_catching_up_more_than_one_since_page_gets_every_post(world, rest):
    await rest.me()
    first = await rest.create_post(world.channel["id"], "post 0")
    for n in range(1, 1450):
        world.sandbox.post(world.bot["id"], world.channel["id"], f"post {n}")
    caught_up = await rest.get_posts_since(world.channel["id"], first.create_at - 1)
    assert [p.message for p in caught_up] == [f"post {n}" for n in range(1450)]
