"""Users, sessions, access tokens, bots and teams (with their default channels)."""
from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from .errors import AppError
from .events import Event
from .ids import new_id, now_ms
from .models import (access_token_json, bot_json, team_json, team_member_json, user_json)
from .validation import check_email, check_team_name, check_username

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = (("town-square", "Town Square"), ("off-topic", "Off-Topic"))
MIN_PASSWORD_LENGTH = 8


class Accounts:
    """Create and authenticate users and bots; create teams and add members to them."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    # ---------------------------------------------------------------- users
    def create_user(self, username: str, email: str | None = None, password: str | None = None, *,
                    roles: str = "system_user", first_name: str = "", last_name: str = "",
                    is_bot: bool = False, bot_description: str = "") -> dict:
        """Validate and store a new user; return its User JSON."""
        username = (username or "").strip().lower()
        check_username(username)
        email = (email or f"{username}@sandbox.invalid").strip().lower()
        check_email(email)
        if password is None:
            password = secrets.token_urlsafe(16)
        if not is_bot and len(password) < MIN_PASSWORD_LENGTH:
            raise AppError(400, "model.user.is_valid.pwd_length.app_error",
                           f"Your password must contain at least {MIN_PASSWORD_LENGTH} characters.")
        if self.state.user_by_username(username):
            raise AppError(400, "app.user.save.username_exists.app_error",
                           "An account with that username already exists.")
        if self.state.user_by_email(email):
            raise AppError(400, "app.user.save.email_exists.app_error",
                           "An account with that email already exists.")
        user = user_json(username, email, roles=roles, first_name=first_name, last_name=last_name,
                         now=now_ms(), is_bot=is_bot, bot_description=bot_description)
        self.state.users[user["id"]] = user
        self.state.passwords[user["id"]] = password
        self.core.hub.publish(Event("new_user", {"user_id": user["id"]}))
        return user

    def login(self, login_id: str, password: str) -> tuple[dict, str]:
        """Check credentials and return (user, new session token)."""
        user = self.state.user_by_username(login_id or "") or self.state.user_by_email(login_id or "")
        if user and user.get("is_bot"):
            raise AppError(401, "api.user.login.bot_login_forbidden.app_error", "Bot login is forbidden.")
        if not user or user["delete_at"] or self.state.passwords.get(user["id"]) != password:
            raise AppError(401, "api.user.login.invalid_credentials_email_username",
                           "Enter a valid email or username and/or password.")
        return user, self.issue_token(user["id"])

    def issue_token(self, user_id: str) -> str:
        """Return a new token that authenticates as the user."""
        token = new_id()
        self.state.tokens[token] = user_id
        return token

    def create_access_token(self, user_id: str, description: str) -> dict:
        """Return a new personal access token record for the user."""
        if user_id not in self.state.users:
            raise AppError(404, "app.user.missing_account.const", "Unable to find the user.")
        return access_token_json(user_id, self.issue_token(user_id), description)

    def create_bot(self, username: str, display_name: str = "", description: str = "",
                   owner_id: str = "") -> tuple[dict, dict]:
        """Create a bot user; return (Bot JSON, its User JSON)."""
        user = self.create_user(username, f"{(username or '').lower()}@localhost", None, is_bot=True,
                                bot_description=description, first_name=display_name)
        bot = bot_json(user, owner_id, description, display_name)
        self.state.bots[user["id"]] = bot
        return bot, user

    # ---------------------------------------------------------------- teams
    def create_team(self, name: str, display_name: str, team_type: str = "O", creator_id: str = "",
                    description: str = "") -> dict:
        """Create a team with its default channels; the creator joins as team admin."""
        name = (name or "").strip()
        check_team_name(name)
        if not display_name or len(display_name) > 64:
            raise AppError(400, "model.team.is_valid.name.app_error", "Invalid name.")
        if team_type not in ("O", "I"):
            raise AppError(400, "model.team.is_valid.type.app_error", "Invalid type.")
        if any(t["name"] == name for t in self.state.teams.values()):
            raise AppError(400, "app.team.save.existing.app_error", "A team with that name already exists.")
        team = team_json(name, display_name, team_type=team_type, now=now_ms(), description=description)
        self.state.teams[team["id"]] = team
        self.state.team_members[team["id"]] = {}
        for channel_name, channel_display in DEFAULT_CHANNELS:
            self.core.channels.create_channel(team["id"], channel_name, channel_display, "O")
        if creator_id:
            self.add_team_member(team["id"], creator_id, admin=True)
        return team

    def add_team_member(self, team_id: str, user_id: str, admin: bool = False) -> tuple[dict, bool]:
        """Add the user to the team and its default channels; return (member, newly added)."""
        members = self.state.team_members.setdefault(team_id, {})
        if user_id in members:
            return members[user_id], False
        member = team_member_json(team_id, user_id, admin=admin, now=now_ms())
        members[user_id] = member
        self.core.hub.publish(Event("added_to_team", {"team_id": team_id, "user_id": user_id}, user_id=user_id))
        for channel_name, _ in DEFAULT_CHANNELS:
            channel = self.state.channel_by_name(team_id, channel_name)
            if channel and not channel["delete_at"]:
                self.core.channels.add_member(channel, user_id, actor_id=user_id,
                                              join_type="system_join_team" if channel_name == "town-square"
                                              else "system_join_channel")
        return member, True
