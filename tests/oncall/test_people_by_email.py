"""resolve_emails maps provider e-mails to Mattermost users through an injected lookup."""
from __future__ import annotations

import asyncio

import pytest

from bot.oncall.people import resolve_emails

USERS = {"alice@example.com": {"id": "u1", "username": "alice"}, "bob@example.com": {"id": "u2", "username": "bob"}}


class Lookup:
    """Stands in for GET /api/v4/users/email/{email}: the user, or None for a 404; counts calls."""

    def __init__(self, fail_on: str = "") -> None:
        self.asked: list[str] = []
        self.running = self.most_at_once = 0
        self.fail_on = fail_on

    async def __call__(self, email: str) -> dict | None:
        self.asked.append(email)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(0.01)
            if email == self.fail_on:
                raise ConnectionError("Mattermost is down")
            return USERS.get(email.lower())
        finally:
            self.running -= 1


async def test_found_and_missing_in_the_order_given():
    lookup = Lookup()
    found, missing = await resolve_emails(["carol@example.com", "alice@example.com", "bob@example.com"], lookup)
    assert found == {"alice@example.com": USERS["alice@example.com"], "bob@example.com": USERS["bob@example.com"]}
    assert list(found) == ["alice@example.com", "bob@example.com"]
    assert missing == ["carol@example.com"]


async def test_each_address_is_looked_up_once_ignoring_case_and_blanks():
    lookup = Lookup()
    found, missing = await resolve_emails([" Alice@Example.com ", "alice@example.com", "", "  "], lookup)
    assert lookup.asked == ["Alice@Example.com"]
    assert found == {"Alice@Example.com": USERS["alice@example.com"]} and missing == []


async def test_lookups_run_concurrently_up_to_the_limit():
    lookup = Lookup()
    await resolve_emails([f"user{n}@example.com" for n in range(10)], lookup, concurrency=3)
    assert len(lookup.asked) == 10 and lookup.most_at_once == 3


async def test_nothing_to_resolve():
    assert await resolve_emails([], Lookup()) == ({}, [])


async def test_a_failing_lookup_raises_its_own_error():
    with pytest.raises(ConnectionError, match="Mattermost is down"):
        await resolve_emails(["alice@example.com", "bob@example.com"], Lookup(fail_on="bob@example.com"))
