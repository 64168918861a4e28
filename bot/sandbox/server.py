"""Sandbox: a Mattermost-compatible server for tests and demos, with seeding and fault-injection helpers."""
from __future__ import annotations

import copy
import dataclasses
import logging

from aiohttp import web

from .app import build_app
from .core import Core
from .middleware import Runtime
from .settings import ServerSettings

log = logging.getLogger(__name__)

ADMIN_USERNAME = "sysadmin"
ADMIN_PASSWORD = "Sysadmin-Passw0rd!"


class Sandbox:
    """An in-memory Mattermost server 11 speaking REST v4 and the websocket protocol over real sockets."""

    def __init__(self, rate_limit: bool = False, per_sec: int = 10, burst: int = 100, site_url: str | None = None,
                 *, ws_ping_interval: float = 60.0, ws_auth_timeout: float = 5.0, ws_inactive_ttl: float = 300.0,
                 license_sku: str = "enterprise"):
        """license_sku: "enterprise" (default), "professional" (custom groups, no LDAP groups) or "" (none)."""
        self.core = Core(ServerSettings(site_url=site_url or "", license_sku=license_sku), inactive_ttl=ws_inactive_ttl)
        self.runtime = Runtime()
        self.runtime.set_rate_limit(rate_limit, per_sec=per_sec, burst=burst)
        self._fixed_site_url = site_url
        self._ws_ping_interval = ws_ping_interval
        self._ws_auth_timeout = ws_auth_timeout
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        admin = self.core.accounts.create_user(ADMIN_USERNAME, f"{ADMIN_USERNAME}@sandbox.invalid", ADMIN_PASSWORD,
                                               roles="system_admin system_user")
        self.admin_token = self.core.accounts.issue_token(admin["id"])

    # ---------------------------------------------------------------- lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port) and return the base URL."""
        app = build_app(self, self._ws_ping_interval, self._ws_auth_timeout)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound_port}"
        if not self._fixed_site_url:
            self.core.settings = dataclasses.replace(self.core.settings, site_url=self.url)
        log.info("sandbox listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Close every websocket and stop serving."""
        self.core.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def admin(self) -> dict:
        """Return the seeded system admin's User JSON."""
        return copy.deepcopy(self.core.state.user_for_token(self.admin_token))

    # ---------------------------------------------------------------- seeding
    def create_user(self, username: str, *, email: str | None = None, password: str | None = None,
                    system_admin: bool = False, first_name: str = "", last_name: str = "") -> dict:
        """Create a user and return its User JSON."""
        roles = "system_admin system_user" if system_admin else "system_user"
        return copy.deepcopy(self.core.accounts.create_user(username, email, password, roles=roles,
                                                            first_name=first_name, last_name=last_name))

    def create_token(self, user_id: str) -> str:
        """Return a new personal access token for the user."""
        return self.core.accounts.create_access_token(user_id, "sandbox")["token"]

    def create_bot(self, username: str, display_name: str = "", owner_id: str | None = None) -> tuple[dict, str]:
        """Create a bot user; return (its User JSON with is_bot, a token for it)."""
        owner = owner_id or self.core.state.tokens[self.admin_token]
        _, user = self.core.accounts.create_bot(username, display_name, "", owner_id=owner)
        return copy.deepcopy(user), self.create_token(user["id"])

    def create_team(self, name: str, display_name: str) -> dict:
        """Create an open team (with town-square and off-topic) and return its Team JSON."""
        return copy.deepcopy(self.core.accounts.create_team(name, display_name))

    def add_team_member(self, team_id: str, user_id: str, *, admin: bool = False) -> None:
        """Add the user to the team (and its default channels); admin=True also makes a member a team admin."""
        member, _ = self.core.accounts.add_team_member(team_id, user_id, admin=admin)
        if admin:
            member.update(roles="team_user team_admin", scheme_admin=True)

    def create_channel(self, team_id: str, name: str, display_name: str, type: str = "O",
                       creator_id: str | None = None) -> dict:
        """Create a channel; a creator is added to the team if needed and joins the channel."""
        if creator_id:
            self.core.accounts.add_team_member(team_id, creator_id)
        return copy.deepcopy(self.core.channels.create_channel(team_id, name, display_name, type,
                                                               creator_id=creator_id or ""))

    def add_channel_member(self, channel_id: str, user_id: str) -> None:
        """Add the user to the channel (joining its team first if needed), as a self-join."""
        channel = self.core.state.channels[channel_id]
        if channel["team_id"]:
            self.core.accounts.add_team_member(channel["team_id"], user_id)
        self.core.channels.add_member(channel, user_id, actor_id=user_id)

    def create_incoming_hook(self, channel_id: str, user_id: str, display_name: str = "") -> dict:
        """Create an incoming webhook posting as user_id into the channel."""
        channel = self.core.state.channels[channel_id]
        return copy.deepcopy(self.core.webhooks.create(channel, user_id, display_name=display_name))

    def post(self, user_id: str, channel_id: str, message: str, root_id: str = "",
             props: dict | None = None) -> dict:
        """Post as the user through the same path as POST /posts (permissions, events, mentions)."""
        user = self.core.state.users[user_id]
        return self.core.posting.create_post(user, channel_id, message, root_id=root_id, props=props)

    async def click(self, user_id: str, post_id: str, action_id: str, selected_option: str = "") -> dict:
        """Click a post's button as the user (POST /posts/{id}/actions/{action_id}); return the response body.

        The integration is called and its answer applied as on the REST path; failures raise AppError.
        """
        user = self.core.state.users[user_id]
        return await self.core.actions.click(user, post_id, action_id, selected_option=selected_option)

    def create_command(self, team_id: str, trigger: str, url: str, creator_id: str, *, method: str = "P",
                       username: str = "", icon_url: str = "", auto_complete: bool = False,
                       auto_complete_desc: str = "", auto_complete_hint: str = "") -> dict:
        """Create a custom slash command (as POST /commands validates it); return the Command JSON with its token."""
        return self.core.commands.create({
            "team_id": team_id, "trigger": trigger, "url": url, "method": method, "username": username,
            "icon_url": icon_url, "auto_complete": auto_complete, "auto_complete_desc": auto_complete_desc,
            "auto_complete_hint": auto_complete_hint}, creator_id)

    async def slash(self, user_id: str, channel_id: str, command: str, team_id: str = "", root_id: str = "") -> dict:
        """Run "/trigger args" as the user (POST /commands/execute); return the CommandResponse, AppError on failure."""
        user = self.core.state.users[user_id]
        return await self.core.commands.execute(user, channel_id, command, team_id=team_id, root_id=root_id)

    def create_group(self, name: str, display_name: str, user_ids: list[str] | tuple[str, ...] = ()) -> dict:
        """Create a custom group with those members (as POST /groups validates it) and return its Group JSON."""
        return self.core.groups.create(name, display_name, list(user_ids))

    def set_status(self, user_id: str, status: str, dnd_end_time: int = 0) -> dict:
        """Set the user's status by hand, as PUT /users/{id}/status does (status_change to the user)."""
        if user_id not in self.core.state.users:
            raise KeyError(user_id)
        return self.core.statuses.set(user_id, status, dnd_end_time)

    # ---------------------------------------------------------------- inspection
    def posts(self, channel_id: str) -> list[dict]:
        """Return the channel's non-deleted posts, oldest first."""
        return [self.core.posting.for_client(p) for p in self.core.state.live_posts(channel_id)]

    def channel_members(self, channel_id: str) -> set[str]:
        """Return the ids of the channel's members."""
        return self.core.state.member_ids(channel_id)

    def channel_by_name(self, team_id: str, name: str) -> dict | None:
        """Return the team's channel with that name, or None."""
        channel = self.core.state.channel_by_name(team_id, name)
        return copy.deepcopy(channel) if channel else None

    def commands(self, team_id: str) -> list[dict]:
        """Return the team's custom slash commands (tokens included), oldest first."""
        return copy.deepcopy(self.core.commands.team_commands(team_id))

    def pinned(self, channel_id: str) -> list[dict]:
        """Return the channel's pinned posts, oldest first."""
        return [p for p in self.posts(channel_id) if p["is_pinned"]]

    def stats(self) -> dict:
        """Return counts of records, connections and requests, and the current knobs."""
        state, hub = self.core.state, self.core.hub
        return {
            "users": len(state.users), "teams": len(state.teams), "channels": len(state.channels),
            "posts": len(state.posts), "hooks": len(state.hooks),
            "websockets_active": sum(1 for c in hub.conns.values() if c.active),
            "websockets_resumable": sum(1 for c in hub.conns.values() if not c.active),
            "requests": len(self.runtime.request_log), "latency": self.runtime.latency,
            "rate_limit": dataclasses.asdict(self.runtime.rate), "faults": self.runtime.faults.pending(),
        }

    # ---------------------------------------------------------------- fault injection
    def drop_websockets(self, user_id: str | None = None, forget: bool = False) -> int:
        """Abort live websockets (all, or one user's); forget also discards their resumable state."""
        return self.core.hub.drop(user_id, forget=forget)

    def fail_next(self, n: int, status: int = 503, path_prefix: str = "") -> None:
        """Make the next n REST requests under path_prefix fail with status (replaces a pending rule; 0 clears)."""
        self.runtime.faults.set(n, status=status, path_prefix=path_prefix)

    @property
    def latency(self) -> float:
        """Seconds added to every REST response."""
        return self.runtime.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.runtime.latency = float(seconds)

    def set_rate_limit(self, enabled: bool, per_sec: int = 10, burst: int = 100) -> None:
        """Turn rate limiting on or off (GCRA per remote address)."""
        self.runtime.set_rate_limit(enabled, per_sec=per_sec, burst=burst)

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """Every REST request served, in order, as (method, path, status)."""
        return self.runtime.request_log
