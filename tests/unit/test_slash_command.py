"""The slash command's autocomplete hint, built from the command specs, and the create-or-update decision."""
from __future__ import annotations

from typing import Any

from bot.chat.commands import CommandSpec
from bot.chat.slash import HINT_LIMIT, autocomplete_hint, register_slash_command


async def nothing(ctx, args):
    return []


def specs(*names: str, aliases: tuple[str, ...] = ()) -> list[CommandSpec]:
    return [CommandSpec(name, name, f"{name} it", nothing, aliases=aliases if name == "ack" else ())
            for name in names]


def test_the_hint_lists_every_command_once_in_order_with_help_last():
    hint = autocomplete_hint(specs("help", "start", "ack", "update", "resolve", "ack"))
    assert hint == "[start|ack|update|resolve|help] [arguments]"


def test_aliases_stay_out_of_the_hint():
    assert autocomplete_hint(specs("start", "ack", aliases=("acknowledge",))) == "[start|ack] [arguments]"


def test_a_hint_too_long_for_mattermost_is_cut_with_an_ellipsis():
    names = [f"command{i:03d}" for i in range(200)]
    hint = autocomplete_hint(specs(*names))
    assert len(hint) <= HINT_LIMIT and hint.startswith("[command000|command001|") and hint.endswith("|...] [arguments]")
    assert autocomplete_hint(specs("start", "resolve"), limit=25) == "[start|...] [arguments]"
    assert len(autocomplete_hint(specs("a-very-long-command-name"), limit=10)) <= 10


class FakeRest:
    """Just the three command calls, recorded."""

    def __init__(self, commands: list[dict[str, Any]]):
        self.commands = commands
        self.calls: list[str] = []

    async def list_commands(self, team_id: str) -> list[dict[str, Any]]:
        self.calls.append("list")
        return [dict(c) for c in self.commands if c["team_id"] == team_id]

    async def create_command(self, command: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("create")
        made = {**command, "id": "c1", "token": "new-token"}
        self.commands.append(made)
        return made

    async def update_command(self, command: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("update")
        self.commands = [command if c["id"] == command["id"] else c for c in self.commands]
        return command


async def test_register_creates_then_leaves_alone_then_updates():
    rest = FakeRest([{"id": "x", "team_id": "t1", "trigger": "other", "token": "other-token"}])
    args = ("t1", "incident", "https://bot/mattermost/command", "[start] [arguments]", "Run incidents")
    assert await register_slash_command(rest, *args) == "new-token"
    assert await register_slash_command(rest, *args) == "new-token"
    assert rest.calls == ["list", "create", "list"]
    (made,) = [c for c in rest.commands if c["trigger"] == "incident"]
    assert made["method"] == "P" and made["auto_complete"] is True and made["auto_complete_desc"] == "Run incidents"

    moved = ("t1", "INCIDENT", "https://elsewhere/mattermost/command", "[start|ack] [arguments]", "Run incidents")
    assert await register_slash_command(rest, *moved) == "new-token"
    assert rest.calls[-2:] == ["list", "update"]
    (updated,) = [c for c in rest.commands if c["trigger"] == "incident"]
    assert updated["url"] == "https://elsewhere/mattermost/command"
    assert updated["auto_complete_hint"] == "[start|ack] [arguments]"
    assert updated["id"] == "c1" and len(rest.commands) == 2
