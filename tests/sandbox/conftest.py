"""Fixtures for the sandbox tests: a started Sandbox per test and a small seeded world."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.sandbox import Sandbox


@dataclass(frozen=True)
class World:
    """A team with two users (tokens included) in one open channel."""

    team: dict
    channel: dict
    alice: dict
    alice_token: str
    bob: dict
    bob_token: str


@pytest.fixture
async def sandbox():
    """Start a sandbox on a free port and stop it after the test."""
    sb = Sandbox(ws_ping_interval=5.0)
    await sb.start(port=0)
    try:
        yield sb
    finally:
        await sb.stop()


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    """Seed a team, two users and an open channel they both belong to."""
    team = sandbox.create_team("ops", "Operations")
    alice = sandbox.create_user("alice", first_name="Alice")
    bob = sandbox.create_user("bob")
    channel = sandbox.create_channel(team["id"], "incidents", "Incidents", creator_id=alice["id"])
    sandbox.add_channel_member(channel["id"], bob["id"])
    return World(team, channel, alice, sandbox.create_token(alice["id"]), bob, sandbox.create_token(bob["id"]))
