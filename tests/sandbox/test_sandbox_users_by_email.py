"""GET /api/v4/users/email/{email}: the lookup a paging provider's e-mails go through."""
from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest
from mattermostautodriver import AsyncTypedDriver
from mattermostautodriver.exceptions import ResourceNotFound

from sandbox_helpers import port_of


async def get(sandbox, email: str, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{sandbox.url}/api/v4/users/email/{quote(email, safe='')}", headers=headers) as answer:
            return answer.status, await answer.json()


async def test_a_user_is_found_by_email_ignoring_case(sandbox, world):
    carol = sandbox.create_user("carol", email="carol+oncall@example.com")
    status, body = await get(sandbox, "Carol+OnCall@Example.com", world.alice_token)
    assert status == 200
    assert (body["id"], body["username"], body["email"]) == (carol["id"], "carol", "carol+oncall@example.com")


async def test_an_unknown_email_is_the_servers_missing_account_404(sandbox, world):
    status, body = await get(sandbox, "nobody@example.com", world.alice_token)
    assert status == 404
    assert body["id"] == "app.user.missing_account.const" and body["status_code"] == 404


@pytest.mark.parametrize("email", ["not-an-email", "@example.com", "a b@example.com"])
async def test_a_malformed_email_is_an_invalid_url_param(sandbox, world, email):
    status, body = await get(sandbox, email, world.alice_token)
    assert status == 400
    assert body["id"] == "api.context.invalid_url_param.app_error" and "email" in body["message"]


async def test_the_lookup_needs_a_session(sandbox, world):
    status, body = await get(sandbox, world.bob["email"], None)
    assert status == 401 and body["id"] == "api.context.session_expired.app_error"


async def test_the_client_library_reaches_the_route(sandbox, world):
    options = {"url": "127.0.0.1", "port": port_of(sandbox), "scheme": "http", "timeout": 5,
               "token": world.bob_token}
    async with AsyncTypedDriver(options) as mm:
        await mm.login()
        assert (await mm.users.get_user_by_email(world.alice["email"]))["id"] == world.alice["id"]
        with pytest.raises(ResourceNotFound):
            await mm.users.get_user_by_email("nobody@example.com")
