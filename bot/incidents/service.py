"""The incident service: carries out what the state machine allows, records it, and says so in chat.

Each side effect of opening an incident (channel, invite, header, pin, link) is recorded on the incident
row once it has happened, so a restart after a crash finishes the setup without doing any step twice.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Protocol

from bot.clock import Clock
from bot.incidents.model import Action, Incident, Severity, Status, transition
from bot.people.roles import COMMANDER, DEFAULT_ROLES, Handoff, RoleSet, incident_roles
from bot.mattermost.errors import CHANNEL_EXISTS, MattermostError
from bot.mattermost.events import Post
from bot.store import incidents as incident_store
from bot.store import posts as post_store
from bot.store.db import Database
from bot.store.timeline import record
from bot.templates import Templates

log = logging.getLogger(__name__)

CHANNEL_NAME_MAX = 64
DISPLAY_NAME_MAX = 64
TIMELINE_KIND = {Action.ACKNOWLEDGE: "acknowledged", Action.UPDATE: "status_update", Action.RESOLVE: "resolved"}


class ChatAPI(Protocol):
    """The Mattermost calls the incident service makes (MattermostRest provides them)."""

    async def create_channel(self, team_id: str, name: str, display_name: str, *, private: bool = False,
                             purpose: str = "", header: str = "") -> dict[str, Any]: ...
    async def get_channel_by_name(self, team_id: str, name: str) -> dict[str, Any] | None: ...
    async def add_channel_member(self, channel_id: str, user_id: str) -> Any: ...
    async def create_post(self, channel_id: str, message: str, *, root_id: str = "",
                          props: dict | None = None, pending_post_id: str | None = None) -> Post: ...
    async def patch_post(self, post_id: str, *, message: str | None = None, props: dict | None = None) -> Any: ...
    async def pin_post(self, post_id: str) -> Any: ...
    async def patch_channel(self, channel_id: str, *, header: str | None = None, purpose: str | None = None,
                            display_name: str | None = None) -> Any: ...
    async def get_posts_since(self, channel_id: str, since_ms: int) -> list[Post]: ...


class UsernameLookup(Protocol):
    async def username(self, user_id: str) -> str: ...


@dataclass(frozen=True)
class ChannelOptions:
    """How an incident's channel is made (a playbook's defaults): private or not, what to name it after."""

    private: bool = False
    name_hint: str = ""


@dataclass(frozen=True)
class Team:
    id: str
    name: str


def channel_slug(title: str) -> str:
    """Lowercase ASCII words joined by '-', as Mattermost channel names allow."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def channel_name(prefix: str, incident_id: int, title: str, attempt: int = 0) -> str:
    """A valid, unique-by-number channel name of at most 64 characters."""
    base = f"{prefix}-{incident_id}" + (f"-{attempt + 1}" if attempt else "")
    slug = channel_slug(title)
    if not slug:
        return base
    return f"{base}-{slug}"[:CHANNEL_NAME_MAX].rstrip("-")


def named_channel(name: str, attempt: int = 0) -> str:
    """A channel name a playbook chose (already rendered), made valid; `-2`, `-3` on later attempts."""
    suffix = f"-{attempt + 1}" if attempt else ""
    return (channel_slug(name)[:CHANNEL_NAME_MAX - len(suffix)].rstrip("-") or "incident") + suffix


def display_name(incident: Incident) -> str:
    name = f"{incident.key}: {incident.title}"
    return name if len(name) <= DISPLAY_NAME_MAX else name[: DISPLAY_NAME_MAX - 1] + "…"


class IncidentService:
    def __init__(self, db: Database, chat: ChatAPI, users: UsernameLookup, templates: Templates, clock: Clock, *,
                 team: Team, site_url: str, bot_user_id: str, bot_username: str, channel_prefix: str = "inc"):
        self.db = db
        self.chat = chat
        self.users = users
        self.templates = templates
        self.clock = clock
        self.team = team
        self.site_url = site_url.rstrip("/")
        self.bot_user_id = bot_user_id
        self.bot_username = bot_username
        self.channel_prefix = channel_prefix
        self.on_ready: Callable[[Incident], Awaitable[None]] | None = None      # after the setup (playbooks)
        # after a change: (incident, action, text, actor id); playbook cleanup, status updates
        self.on_change: list[Callable[[Incident, Action, str, str], Awaitable[None]]] = []
        self.channel_options: Callable[[Incident], ChannelOptions] | None = None
        self.roles: RoleSet = DEFAULT_ROLES

    # ------------------------------------------------------------------ opening
    async def start(self, *, title: str, severity: Severity, reporter_id: str, origin_channel_id: str,
                    origin_post_id: str, summary: str = "", alert_group: str = "", playbook: str = "",
                    alert: str = "") -> Incident:
        """Open an incident (at most one per origin post) and set up its channel."""
        incident, fresh = await self.open(title=title, severity=severity, reporter_id=reporter_id,
                                          origin_channel_id=origin_channel_id, origin_post_id=origin_post_id,
                                          summary=summary, alert_group=alert_group, playbook=playbook, alert=alert)
        return await self.complete_setup(incident, resuming=not fresh)

    async def open(self, *, title: str, severity: Severity, reporter_id: str, origin_channel_id: str,
                   origin_post_id: str, summary: str = "", alert_group: str = "", playbook: str = "",
                   alert: str = "") -> tuple[Incident, bool]:
        """Record a new incident (or find the one its origin post already opened); True when it is new.

        Only the database is touched: the channel and posts come with `complete_setup`.
        """
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            existing = await incident_store.incident_for_origin_post(self.db, origin_post_id) if origin_post_id else None
            if existing is not None:
                log.info("post %s already opened %s; finishing its setup", origin_post_id, existing.key)
                return existing, False
            if origin_post_id:
                await post_store.mark_handled(conn, origin_post_id, origin_channel_id, now)
            incident = await incident_store.insert_incident(conn, Incident(
                id=0, title=title, severity=severity, status=Status.OPEN, reporter_id=reporter_id,
                commander_id=reporter_id, created_at=now, updated_at=now,
                origin_channel_id=origin_channel_id, origin_post_id=origin_post_id, summary=summary,
                alert_group=alert_group, reporter_invited=reporter_id == self.bot_user_id, playbook=playbook,
                alert=alert))
            await record(conn, incident.id, "created", at=now, actor_id=reporter_id, text=title,
                         data={"severity": severity.value, "playbook": playbook})
        return incident, True

    async def complete_setup(self, incident: Incident, *, resuming: bool = True) -> Incident:
        """Do whatever part of the channel/invite/header/pin/link setup has not happened yet.

        Each step's result is saved as soon as it happened. When `resuming` an interrupted setup, posts
        that may already exist are looked for first, so none is made twice.
        """
        if not incident.channel_id:
            channel = await self._create_channel(incident)
            incident = await self._step(incident, {"channel_id": channel["id"], "channel_name": channel["name"]},
                                        "channel_created", text=f"~{channel['name']}", data={"channel_id": channel["id"]})
            async with self.db.transaction() as conn:   # follow the channel from its creation (server time)
                await post_store.advance_cursor(conn, incident.channel_id, int(channel.get("create_at") or 1) - 1)
        if not incident.reporter_invited:
            await self.chat.add_channel_member(incident.channel_id, incident.reporter_id)
            incident = await self._step(incident, {"reporter_invited": True}, "member_added",
                                        actor_id=incident.reporter_id, data={"user_id": incident.reporter_id})
        if not incident.header_post_id:
            header = await self._find_bot_post(incident.channel_id, incident, "header") if resuming else None
            if header is None:
                header = await self.chat.create_post(incident.channel_id, await self._header_text(incident),
                                                     props=self._props(incident, "header"))
            incident = await self._step(incident, {"header_post_id": header.id})
        if not incident.header_pinned:
            await self.chat.pin_post(incident.header_post_id)
            incident = await self._step(incident, {"header_pinned": True}, "summary_pinned",
                                        data={"post_id": incident.header_post_id})
        if not incident.link_post_id and incident.origin_channel_id:
            link = await self._find_bot_post(incident.origin_channel_id, incident, "link") if resuming else None
            if link is None:
                link = await self.chat.create_post(
                    incident.origin_channel_id,
                    self.templates.render("started", incident=incident, channel_url=self.channel_url(incident)),
                    root_id=incident.origin_post_id, props=self._props(incident, "link"))
            incident = await self._step(incident, {"link_post_id": link.id})
        if not incident.setup_done:
            incident = await self._step(incident, {"setup_done": True})
        if self.on_ready is not None:
            await self.on_ready(incident)
        return incident

    async def _create_channel(self, incident: Incident) -> dict[str, Any]:
        """Create the incident channel, adopting one left by an interrupted earlier attempt."""
        options = self.channel_options(incident) if self.channel_options else ChannelOptions()
        for attempt in range(5):
            name = (named_channel(options.name_hint, attempt) if options.name_hint
                    else channel_name(self.channel_prefix, incident.id, incident.title, attempt))
            try:
                return await self.chat.create_channel(self.team.id, name, display_name(incident),
                                                      private=options.private, header=await self.channel_header(incident),
                                                      purpose=f"Incident {incident.key}, opened by incident-bot")
            except MattermostError as exc:
                if exc.error_id != CHANNEL_EXISTS:
                    raise
            existing = await self.chat.get_channel_by_name(self.team.id, name)
            if existing and existing.get("creator_id") == self.bot_user_id and \
                    await incident_store.incident_for_channel(self.db, existing["id"]) is None:
                return existing
        raise RuntimeError(f"could not find a free channel name for {incident.key}")

    async def _find_bot_post(self, channel_id: str, incident: Incident, role: str) -> Post | None:
        """A post this bot already made for this incident and role (after a crash), if any."""
        for post in await self.chat.get_posts_since(channel_id, incident.created_at - 1):
            tag = post.props.get("incident_bot")
            if post.user_id == self.bot_user_id and isinstance(tag, dict) and \
                    tag.get("incident") == incident.id and tag.get("role") == role and not post.delete_at:
                return post
        return None

    @staticmethod
    def _props(incident: Incident, role: str) -> dict[str, Any]:
        return {"incident_bot": {"incident": incident.id, "role": role}}

    def channel_url(self, incident: Incident) -> str:
        return f"{self.site_url}/{self.team.name}/channels/{incident.channel_name}"

    # ------------------------------------------------------------------ changes
    async def change(self, incident: Incident, action: Action, *, actor_id: str, text: str, post_id: str = "",
                     channel_id: str = "") -> Incident | None:
        """Apply a state-machine action (from a command post, if any); None if that post was already handled.

        Raises TransitionRefused (nothing is recorded then) when the action is not allowed.
        """
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            if post_id and not await post_store.mark_handled(conn, post_id, channel_id, now):
                return None
            current = await incident_store.get_incident(self.db, incident.id)
            changed = transition(current, action, now)
            await incident_store.save_incident(conn, changed)
            await record(conn, changed.id, TIMELINE_KIND[action], at=now, actor_id=actor_id, text=text,
                         data={"status": changed.status.value, "post_id": post_id})
        await self.refresh_header(changed)
        for listener in self.on_change:
            try:
                await listener(changed, action, text, actor_id)
            except Exception:   # a listener's failure must not undo or hide the change itself
                log.exception("after %s of %s", action.value, changed.key)
        return changed

    async def set_commander(self, incident: Incident, user_id: str, *, actor_id: str) -> Incident:
        """Hand the incident to a commander (recorded, and shown in the pinned summary)."""
        changed, _ = await self.assign_role(incident, COMMANDER, user_id, actor_id=actor_id)
        return changed

    async def assign_role(self, incident: Incident, role: str, user_id: str, *, actor_id: str) -> tuple[Incident, Handoff]:
        """Give a role to someone: the hand-off is recorded, they join the channel, the summary shows it."""
        book, handoff = incident_roles(incident, self.roles).assign(role, user_id)
        changes: dict[str, Any] = {"roles": book.as_json()}
        if role == COMMANDER:
            changes["commander_id"] = user_id
        previous = f" (was @{await self.users.username(handoff.previous)})" if handoff.previous else ""
        changed = await self._step(incident, changes, "role_assigned", actor_id=actor_id,
                                   text=f"{handoff.role.title}: @{await self.users.username(user_id)}{previous}",
                                   data={"role": role, "user_id": user_id, "previous": handoff.previous})
        if changed.channel_id:
            await self.chat.add_channel_member(changed.channel_id, user_id)
        await self.refresh_header(changed)
        return changed, handoff

    async def channel_header(self, incident: Incident) -> str:
        """The incident channel's header: severity and who holds which role."""
        holders = [f"{role.title} @{await self.users.username(user_id)}"
                   for role, user_id in incident_roles(incident, self.roles).assignments() if user_id]
        return " · ".join([f"{incident.key} · {incident.severity.label}", *holders])[:1024]

    async def change_severity(self, incident: Incident, severity: Severity, *, actor_id: str) -> Incident:
        """Set a new severity (recorded, and shown in the pinned summary)."""
        changed = await self._step(incident, {"severity": severity}, "severity_changed", actor_id=actor_id,
                                   text=f"{incident.severity.label} → {severity.label}",
                                   data={"from": incident.severity.value, "to": severity.value})
        await self.refresh_header(changed)
        return changed

    async def refresh_header(self, incident: Incident) -> None:
        """Edit the pinned summary (and the channel header) so they show the incident as it is now."""
        if not incident.header_post_id:
            return
        await self.chat.patch_post(incident.header_post_id, message=await self._header_text(incident),
                                   props=self._props(incident, "header"))
        await self.chat.patch_channel(incident.channel_id, header=await self.channel_header(incident))

    async def _header_text(self, incident: Incident) -> str:
        holders = [(role.title, await self.users.username(user_id))
                   for role, user_id in incident_roles(incident, self.roles).assignments()
                   if user_id and role.name != COMMANDER]
        return self.templates.render(
            "header", incident=incident, bot=self.bot_username, roles=holders,
            commander=await self.users.username(incident.commander_id),
            reporter=await self.users.username(incident.reporter_id))

    async def _step(self, incident: Incident, changes: dict[str, Any], kind: str = "", *, actor_id: str = "",
                    text: str = "", data: dict | None = None) -> Incident:
        """Save one setup step's result (only its own fields) and its timeline entry, if it has one."""
        now = self.clock.now_ms()
        async with self.db.transaction() as conn:
            await incident_store.update_fields(conn, incident.id, {**changes, "updated_at": now})
            if kind:
                await record(conn, incident.id, kind, at=now, actor_id=actor_id or self.bot_user_id, text=text,
                             data=data)
        return replace(incident, **changes, updated_at=now)
