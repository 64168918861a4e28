"""Channels: create, patch, archive, direct and group channels, and membership, with their events."""
from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from .errors import AppError
from .events import Event, compact
from .ids import now_ms
from .models import channel_json, channel_member_json
from .validation import check_channel_fields

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)


class Channels:
    """Change channels and their membership the way the server's app layer does."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def create_channel(self, team_id: str, name: str, display_name: str, channel_type: str = "O",
                       creator_id: str = "", header: str = "", purpose: str = "") -> dict:
        """Validate and create a team channel; the creator (if any) joins as channel admin."""
        if team_id not in self.state.teams:
            raise AppError(404, "app.team.get.find.app_error", "Unable to find the existing team.")
        check_channel_fields(name, display_name, channel_type, header, purpose)
        if channel_type not in ("O", "P"):
            raise AppError(400, "model.channel.is_valid.type.app_error", "Invalid type.")
        if self.state.channel_by_name(team_id, name):
            raise AppError(400, "store.sql_channel.save_channel.exists.app_error",
                           "A channel with that name already exists on the same team.")
        channel = channel_json(team_id, name, display_name, channel_type=channel_type, creator_id=creator_id,
                               now=now_ms(), header=header, purpose=purpose)
        self._store(channel)
        if creator_id:
            self._add_member_record(channel, creator_id, admin=True)
            self._system_post(channel, creator_id, "system_join_channel", f"{self._at(creator_id)} joined the channel.")
            self.core.hub.publish(Event("channel_created", {"channel_id": channel["id"], "team_id": team_id},
                                        user_id=creator_id))
        return channel

    def direct_channel(self, user_a: str, user_b: str, creator_id: str) -> dict:
        """Return the direct channel of two users, creating it (and announcing it) if needed."""
        for user_id in (user_a, user_b):
            if user_id not in self.state.users:
                raise AppError(400, "api.context.invalid_body_param.app_error",
                               "Invalid or missing user_id in request body.")
        name = "__".join(sorted((user_a, user_b)))
        existing = self.state.channel_by_name("", name)
        if existing:
            return existing
        channel = channel_json("", name, "", channel_type="D", creator_id=creator_id, now=now_ms())
        self._store(channel)
        for user_id in {user_a, user_b}:
            self._add_member_record(channel, user_id, admin=False)
        teammate = user_b if creator_id == user_a else user_a
        self.core.hub.publish(Event("direct_added", {"creator_id": creator_id, "teammate_id": teammate},
                                    channel_id=channel["id"]))
        return channel

    def group_channel(self, user_ids: list[str], creator_id: str) -> dict:
        """Return the group channel of 3 to 8 users, creating it if needed."""
        ids = sorted(set(user_ids))
        if not 3 <= len(ids) <= 8 or any(u not in self.state.users for u in ids):
            raise AppError(400, "api.channel.create_group.bad_size.app_error",
                           "Group message channels must contain at least 3 and no more than 8 users.")
        name = hashlib.sha1(",".join(ids).encode()).hexdigest()
        existing = self.state.channel_by_name("", name)
        if existing:
            return existing
        display = ", ".join(sorted(self.state.users[u]["username"] for u in ids))
        channel = channel_json("", name, display, channel_type="G", creator_id=creator_id, now=now_ms())
        self._store(channel)
        for user_id in ids:
            self._add_member_record(channel, user_id, admin=False)
        self.core.hub.publish(Event("group_added", {"teammate_ids": compact(ids)}, channel_id=channel["id"]))
        return channel

    def patch_channel(self, channel: dict, patch: dict, actor_id: str) -> dict:
        """Apply a ChannelPatch (only the given keys), announce it, and post the change messages."""
        changed = {k: patch[k] for k in ("display_name", "name", "header", "purpose")
                   if isinstance(patch.get(k), str) and patch[k] != channel[k]}
        merged = {**channel, **changed}
        check_channel_fields(merged["name"], merged["display_name"], merged["type"], merged["header"],
                             merged["purpose"])
        if "name" in changed and self.state.channel_by_name(channel["team_id"], changed["name"]):
            raise AppError(400, "store.sql_channel.update.exists.app_error",
                           "A channel with that name already exists on the same team.")
        old = dict(channel)
        channel.update(changed)
        channel["update_at"] = now_ms()
        for key, post_type, verb in (("header", "system_header_change", "header"),
                                     ("purpose", "system_purpose_change", "purpose"),
                                     ("display_name", "system_displayname_change", "display name")):
            if key in changed:
                props = {f"old_{key}": old[key], f"new_{key}": channel[key]}
                self._system_post(channel, actor_id, post_type,
                                  f"{self._at(actor_id)} updated the channel {verb} to: {channel[key]}", props)
        self.announce_update(channel)
        return channel

    def announce_update(self, channel: dict) -> None:
        """Publish channel_updated to the channel's members."""
        self.core.hub.publish(Event("channel_updated", {"channel": compact(channel)}, channel_id=channel["id"]))

    def archive(self, channel: dict, actor_id: str) -> None:
        """Archive (soft-delete) a channel and announce it."""
        now = now_ms()
        self._system_post(channel, actor_id, "system_channel_deleted", f"{self._at(actor_id)} archived the channel")
        channel["delete_at"] = channel["update_at"] = now
        self.core.hub.publish(Event("channel_deleted", {"channel_id": channel["id"], "delete_at": now},
                                    team_id=channel["team_id"]))

    def add_member(self, channel: dict, user_id: str, actor_id: str, join_type: str = "") -> tuple[dict, bool]:
        """Add a user to a team channel; return (member, newly added). Emits user_added and a system post."""
        if channel["type"] in ("D", "G"):
            raise AppError(400, "api.channel.add_user_to_channel.type.app_error",
                           "Can not add user to this channel type.")
        if user_id not in self.state.users:
            raise AppError(404, "app.user.missing_account.const", "Unable to find the user.")
        existing = self.state.channel_members.get(channel["id"], {}).get(user_id)
        if existing:
            return existing, False
        if not self.state.is_team_member(channel["team_id"], user_id):
            raise AppError(403, "api.channel.add_user.to.channel.failed.app_error",
                           "Failed to add user to channel: the user is not a member of the team.")
        member = self._add_member_record(channel, user_id, admin=False)
        if join_type or actor_id == user_id:
            what = "team" if join_type == "system_join_team" else "channel"
            self._system_post(channel, user_id, join_type or "system_join_channel",
                              f"{self._at(user_id)} joined the {what}.")
        else:
            added = self.state.users[user_id]["username"]
            self._system_post(channel, actor_id, "system_add_to_channel", f"@{added} added to the channel.",
                              {"addedUserId": user_id, "addedUsername": added,
                               "userId": actor_id, "username": self.state.users[actor_id]["username"]})
        data = {"user_id": user_id, "team_id": channel["team_id"]}
        self.core.hub.publish(Event("user_added", data, channel_id=channel["id"], omit_users=frozenset({user_id})))
        self.core.hub.publish(Event("user_added", data, user_id=user_id, channel_id=channel["id"]))
        return member, True

    def remove_member(self, channel: dict, user_id: str, actor_id: str) -> None:
        """Remove a user from a channel; emits user_removed twice and a system post."""
        if channel["type"] in ("D", "G"):
            raise AppError(400, "api.channel.remove_user_from_channel.direct.app_error",
                           "Can not remove user from this channel type.")
        if not self.state.is_member(channel["id"], user_id):
            raise AppError(404, "app.channel.get_member.missing.app_error",
                           "No channel member found for that user ID and channel ID.")
        if actor_id == user_id:
            self._system_post(channel, user_id, "system_leave_channel", f"{self._at(user_id)} left the channel.")
        else:
            removed = self.state.users[user_id]["username"]
            self._system_post(channel, actor_id, "system_remove_from_channel",
                              f"@{removed} was removed from the channel.",
                              {"removedUserId": user_id, "removedUsername": removed})
        del self.state.channel_members[channel["id"]][user_id]
        self.core.hub.publish(Event("user_removed", {"user_id": user_id, "remover_id": actor_id},
                                    channel_id=channel["id"]))
        self.core.hub.publish(Event("user_removed", {"channel_id": channel["id"], "remover_id": actor_id},
                                    user_id=user_id))

    def _store(self, channel: dict) -> None:
        self.state.channels[channel["id"]] = channel
        self.state.channel_members[channel["id"]] = {}
        self.state.channel_posts[channel["id"]] = []

    def _add_member_record(self, channel: dict, user_id: str, admin: bool) -> dict:
        member = channel_member_json(channel["id"], user_id, admin=admin, now=now_ms())
        self.state.channel_members[channel["id"]][user_id] = member
        return member

    def _at(self, user_id: str) -> str:
        user = self.state.users.get(user_id)
        return f"@{user['username']}" if user else "someone"

    def _system_post(self, channel: dict, user_id: str, post_type: str, message: str,
                     props: dict | None = None) -> None:
        username = self.state.users[user_id]["username"] if user_id in self.state.users else ""
        self.core.posting.insert_post(channel, user_id, message, post_type=post_type,
                                      props={"username": username, **(props or {})})
