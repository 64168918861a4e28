"""The sandbox's in-memory data: users, teams, channels, posts and the rest, with lookups."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .ids import now_ms

log = logging.getLogger(__name__)


@dataclass
class State:
    """Every record the sandbox serves, kept in Mattermost's JSON shapes."""

    users: dict[str, dict] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)          # token -> user id
    teams: dict[str, dict] = field(default_factory=dict)
    team_members: dict[str, dict[str, dict]] = field(default_factory=dict)
    channels: dict[str, dict] = field(default_factory=dict)
    channel_members: dict[str, dict[str, dict]] = field(default_factory=dict)
    posts: dict[str, dict] = field(default_factory=dict)
    channel_posts: dict[str, list[str]] = field(default_factory=dict)   # oldest first
    replies: dict[str, list[str]] = field(default_factory=dict)         # root id -> reply ids, oldest first
    reactions: dict[str, list[dict]] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    file_data: dict[str, bytes] = field(default_factory=dict)
    hooks: dict[str, dict] = field(default_factory=dict)
    bots: dict[str, dict] = field(default_factory=dict)
    pending_posts: dict[str, tuple[str, int]] = field(default_factory=dict)  # pending id -> (post id, expiry)
    groups: dict[str, dict] = field(default_factory=dict)
    group_members: dict[str, dict[str, dict]] = field(default_factory=dict)   # group id -> user id -> member
    statuses: dict[str, dict] = field(default_factory=dict)  # user id -> Status, once one was recorded

    # ---------------------------------------------------------------- lookups
    def user_for_token(self, token: str) -> dict | None:
        """Return the active user a token belongs to."""
        user = self.users.get(self.tokens.get(token, ""))
        return user if user and not user["delete_at"] else None

    def user_by_username(self, username: str) -> dict | None:
        """Return the user with that username (case-insensitive)."""
        username = username.lower()
        return next((u for u in self.users.values() if u["username"] == username), None)

    def user_by_email(self, email: str) -> dict | None:
        """Return the user with that email (case-insensitive)."""
        email = email.lower()
        return next((u for u in self.users.values() if u["email"] == email), None)

    def team_by_name(self, name: str) -> dict | None:
        """Return the team with that name."""
        return next((t for t in self.teams.values() if t["name"] == name and not t["delete_at"]), None)

    def channel_by_name(self, team_id: str, name: str) -> dict | None:
        """Return the channel with that name in the team (direct channels have team "")."""
        return next((c for c in self.channels.values() if c["team_id"] == team_id and c["name"] == name), None)

    def is_admin(self, user: dict | None) -> bool:
        """Tell whether the user is a system admin."""
        return bool(user) and "system_admin" in user["roles"].split()

    def is_team_member(self, team_id: str, user_id: str) -> bool:
        """Tell whether the user belongs to the team."""
        return user_id in self.team_members.get(team_id, {})

    def is_team_admin(self, team_id: str, user_id: str) -> bool:
        """Tell whether the user is an admin of the team."""
        member = self.team_members.get(team_id, {}).get(user_id)
        return bool(member and member["scheme_admin"])

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Tell whether the user belongs to the channel."""
        return user_id in self.channel_members.get(channel_id, {})

    def member_ids(self, channel_id: str) -> set[str]:
        """Return the ids of the channel's members."""
        return set(self.channel_members.get(channel_id, {}))

    # ---------------------------------------------------------------- permissions
    def can_read_channel(self, user: dict, channel: dict) -> bool:
        """Tell whether the user may read the channel: members, admins, and team members for open channels."""
        if self.is_admin(user) or self.is_member(channel["id"], user["id"]):
            return True
        return channel["type"] == "O" and self.is_team_member(channel["team_id"], user["id"])

    def can_manage_channel(self, user: dict, channel: dict) -> bool:
        """Tell whether the user may change the channel's properties or members."""
        return self.is_admin(user) or self.is_member(channel["id"], user["id"])

    # ---------------------------------------------------------------- posts
    def live_posts(self, channel_id: str) -> list[dict]:
        """Return the channel's non-deleted posts, oldest first."""
        return [p for p in (self.posts[i] for i in self.channel_posts.get(channel_id, [])) if not p["delete_at"]]

    def thread_posts(self, root_id: str) -> list[dict]:
        """Return a thread's live root and replies, oldest first."""
        root = self.posts.get(root_id)
        if not root or root["delete_at"]:
            return []
        replies = (self.posts[i] for i in self.replies.get(root_id, []))
        return [root] + [p for p in replies if not p["delete_at"]]

    def next_post_time(self, channel_id: str) -> int:
        """Return a create_at for a new post, strictly after the channel's last post."""
        ids = self.channel_posts.get(channel_id)
        last = self.posts[ids[-1]]["create_at"] if ids else 0
        return max(now_ms(), last + 1)
