"""Wiring: the Mattermost adapter in, the core deciding, the store and REST out, under one TaskGroup."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

from bot.alerts.buttons import ActionLinks, action_routes
from bot.alerts.http_source import AlertReceiver
from bot.alerts.mqtt_source import MqttAlertSource
from bot.alerts.parsers import default_parsers
from bot.alerts.service import AlertOrigin, AlertService
from bot.chat.actors import ActorLookup
from bot.chat.alert_commands import AlertCommands
from bot.chat.context import CommandContext, Reply
from bot.chat.handlers import LifecycleCommands
from bot.chat.parsing import command_text
from bot.chat.playbook_commands import PlaybookCommands
from bot.chat.oncall_commands import OncallCommands
from bot.chat.report_commands import ReportCommands
from bot.chat.role_commands import RoleCommands
from bot.chat.summary_commands import SummaryCommands
from bot.chat.timeline_commands import TimelineCommands
from bot.chat.update_commands import UpdateCommands
from bot.chat.router import CommandRouter
from bot.chat.slash import slash_routes
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.http_server import serve_http
from bot.incidents.model import Severity
from bot.incidents.service import IncidentService, Team
from bot.incidents.curation import TimelineCuration
from bot.incidents.digest import Digest
from bot.incidents.outgoing import OutgoingWebhook
from bot.incidents.paging import PAGE_ACTION, Paging
from bot.incidents.postmortem import Postmortems
from bot.incidents.updates import StatusUpdates
from bot.mattermost.errors import MattermostError
from bot.mattermost.events import Connected, Event, MembershipEvent, Post, PostChange, PostEvent, ReactionEvent
from bot.mattermost.rest import MattermostRest
from bot.mattermost.websocket import WebsocketListener
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store import posts as post_store
from bot.reports.channel_export import IncidentExporter
from bot.reports.redaction import Redactor
from bot.store.db import Database
from bot.store.tasks import TaskStore
from bot.templates import Templates
from bot.users import UserDirectory
from bot.workflow.actions import actions
from bot.workflow.context import Integrations
from bot.workflow.engine import PlaybookEngine
from bot.workflow.integrations.zoom import ZoomClient
from bot.workflow.library import PlaybookLibrary
from bot.workflow.timers import Timers

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start with this configuration; the message says which setting and why."""


@dataclass(frozen=True)
class Identity:
    """Who the bot is on the server, and where it works."""

    user_id: str
    username: str
    team: Team
    watched_channel_ids: tuple[str, ...]


class Bot:
    """Reads events, handles posts once each, and keeps its channels in sync after reconnects."""

    def __init__(self, *, db: Database, rest: MattermostRest, listener: WebsocketListener, identity: Identity,
                 router: CommandRouter, incidents: IncidentService, alerts: AlertService, users: UserDirectory,
                 clock: Clock, engine: PlaybookEngine | None = None,
                 services: dict[str, Callable[[], Awaitable[None]]] | None = None):
        self.db = db
        self.rest = rest
        self.listener = listener
        self.identity = identity
        self.router = router
        self.incidents = incidents
        self.alerts = alerts
        self.users = users
        self.clock = clock
        self.services = services or {}
        self.engine = engine
        self.curation: TimelineCuration | None = None
        self.started_at = clock.now_ms()
        self.synced = asyncio.Event()
        self.http_url = ""
        self._channel_is_direct: dict[str, bool] = {}
        self._cursors: dict[str, int] = {}
        self._followed: set[str] = set()   # channels whose cursor is in the database

    async def run(self) -> None:
        """Run the websocket reader, the event handler and the other inputs until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.listener.run(), name="websocket")
            group.create_task(self._handle_events(), name="events")
            group.create_task(self.alerts.run_background(), name="alert-upkeep")
            group.create_task(self._keep_cursors(), name="cursors")
            for name, service in self.services.items():
                group.create_task(service(), name=name)

    async def _handle_events(self) -> None:
        while True:
            event = await self.listener.events.get()
            try:
                await self.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("failed to handle %s", type(event).__name__)

    async def handle(self, event: Event) -> None:
        if isinstance(event, Connected):
            if not event.resumed:
                await self.catch_up()
            self.synced.set()
        elif isinstance(event, PostEvent) and event.change is PostChange.POSTED:
            if event.channel_type:
                self._channel_is_direct[event.post.channel_id] = event.channel_type == "D"
            if event.sender_name.startswith("@"):
                self.users.remember(event.post.user_id, event.sender_name[1:])
            await self.handle_post(event.post)
        elif isinstance(event, PostEvent) and event.change is PostChange.EDITED:
            await self.handle_edit(event.post)
            if self.curation is not None:
                await self.curation.post_changed(event.post)
        elif isinstance(event, ReactionEvent) and self.curation is not None:
            await self.curation.reaction(event)
        elif isinstance(event, MembershipEvent) and event.added and self.engine is not None:
            incident = await incident_store.incident_for_channel(self.db, event.channel_id)
            if incident is not None:
                await self.engine.welcome(incident, event.user_id)

    async def handle_edit(self, post: Post) -> None:
        """An edited post in a watched channel may carry a new alert state (Zabbix edits its post on recovery)."""
        if post.channel_id in self.identity.watched_channel_ids and post.edit_at and not post.delete_at \
                and not self._is_own(post):
            await self.alerts.handle_post(post)

    async def catch_up(self) -> None:
        """Handle posts that arrived while the websocket was down (or the bot was stopped)."""
        await self._finish_interrupted_setups()
        await self.save_cursors()
        cursors = await post_store.cursors(self.db)
        self._followed.update(cursors)
        channels = set(cursors) | set(self.identity.watched_channel_ids)
        channels |= set(await incident_store.incident_channel_ids(self.db))
        try:
            channels |= {c["id"] for c in await self.rest.get_my_channels(self.identity.team.id)}
        except MattermostError as exc:
            log.warning("could not list the bot's channels: %s", exc)
        # A channel without a cursor of its own is read from the last moment the bot saw anything at all
        # (posts made there while the bot was down are meant for it), or from this start on a first run.
        default_since = cursors.pop(post_store.ANY_CHANNEL, self.started_at)
        channels.discard(post_store.ANY_CHANNEL)
        for channel_id in sorted(channels):
            since = cursors.get(channel_id, default_since)
            try:
                posts = await self.rest.get_posts_since(channel_id, since)
            except MattermostError as exc:
                log.warning("could not catch up channel %s: %s", channel_id, exc)
                continue
            new_posts = [p for p in posts if p.create_at > since and not p.delete_at]
            if new_posts:
                log.info("catching up %d post(s) in channel %s", len(new_posts), channel_id)
            for post in new_posts:
                await self.handle_post(post)
                if post.edit_at:
                    await self.handle_edit(post)
            for post in posts:
                if post.create_at <= since and post.edit_at > since:
                    await self.handle_edit(post)
            if channel_id not in cursors:
                self._cursors.setdefault(channel_id, since)

    async def _finish_interrupted_setups(self) -> None:
        for incident in await incident_store.unfinished_setups(self.db):
            log.info("finishing the interrupted setup of %s", incident.key)
            try:
                await self.incidents.complete_setup(incident)
            except MattermostError as exc:
                log.warning("could not finish the setup of %s yet: %s", incident.key, exc)

    async def handle_post(self, post: Post) -> None:
        """Handle one post exactly once: commands get answered, alert posts go to the alert pipeline.

        Commands are de-duplicated by the handled-posts table, alert posts by the alert pipeline's own
        record; other posts need nothing. Every post moves its channel's catch-up cursor.
        """
        await self._seen(post)
        if self._is_own(post) or post.type.startswith("system_"):
            return
        command = command_text(post.message, self.identity.username, await self._is_direct(post.channel_id))
        if command is None:
            if post.channel_id in self.identity.watched_channel_ids:
                await self.alerts.handle_post(post)
            return
        if await post_store.is_handled(self.db, post.id):
            return
        replies = await self._run_command(post, command)
        async with self.db.transaction() as conn:
            await post_store.mark_handled(conn, post.id, post.channel_id, self.clock.now_ms())
        for reply in replies:
            await self._send(post, reply)

    async def _seen(self, post: Post) -> None:
        """Move the channel's cursor; the first post seen in a channel is written at once, later ones in batches."""
        update_at = max(post.update_at, post.create_at)
        if update_at > self._cursors.get(post.channel_id, 0):
            self._cursors[post.channel_id] = update_at
        if post.channel_id not in self._followed:
            await self.save_cursors()

    async def save_cursors(self) -> None:
        """Write the channels' catch-up cursors (batched: a crash re-reads at most a moment of posts)."""
        cursors, self._cursors = self._cursors, {}
        self._followed.update(cursors)
        if cursors:
            async with self.db.transaction() as conn:
                for channel_id, update_at in cursors.items():
                    await post_store.advance_cursor(conn, channel_id, update_at)
                await post_store.advance_cursor(conn, post_store.ANY_CHANNEL, max(cursors.values()))

    async def _keep_cursors(self, interval: float = 0.5) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                await self.save_cursors()
        finally:
            await asyncio.shield(self.save_cursors())

    def _is_own(self, post: Post) -> bool:
        """The bot's own posts; a webhook the bot account owns posts for others, so those count as theirs."""
        return post.user_id == self.identity.user_id and post.props.get("from_webhook") != "true"

    async def _run_command(self, post: Post, command) -> list[Reply]:
        ctx = CommandContext(
            actor_id=post.user_id, actor_username=await self.users.username(post.user_id),
            channel_id=post.channel_id, post_id=post.id, thread_id=post.thread_id,
            is_direct=await self._is_direct(post.channel_id),
            incident=await incident_store.incident_for_channel(self.db, post.channel_id),
            now=self.clock.now_ms())
        try:
            return await self.router.dispatch(ctx, command)
        except MattermostError as exc:
            log.warning("command %r in post %s failed: %s", command.verb, post.id, exc)
            return [Reply(f":x: I could not finish `{command.verb}`: Mattermost answered {exc}. "
                          "I will retry what was left undone when the connection is back.")]
        except Exception:
            log.exception("command %r in post %s failed", command.verb, post.id)
            return [Reply(f":x: Something went wrong while handling `{command.verb}`; the details are in my log.")]

    async def send_to_channel(self, channel_id: str, reply: Reply) -> None:
        """Post a reply that answers no post (a slash command's)."""
        try:
            file_ids = [await self.rest.upload_file(reply.channel_id or channel_id, name, data)
                        for name, data in reply.files]
            await self.rest.create_post(reply.channel_id or channel_id, reply.text, file_ids=file_ids)
        except MattermostError as exc:
            log.warning("could not answer a slash command in %s: %s", channel_id, exc)

    async def _send(self, post: Post, reply: Reply) -> None:
        channel_id = reply.channel_id or post.channel_id
        root_id = post.thread_id if reply.in_thread and channel_id == post.channel_id else ""
        try:
            file_ids = [await self.rest.upload_file(channel_id, name, data) for name, data in reply.files]
            await self.rest.create_post(channel_id, reply.text, root_id=root_id, file_ids=file_ids)
        except MattermostError as exc:
            log.warning("could not reply to post %s: %s", post.id, exc)

    async def _is_direct(self, channel_id: str) -> bool:
        if channel_id not in self._channel_is_direct:
            channel = await self.rest.get_channel(channel_id)
            self._channel_is_direct[channel_id] = bool(channel) and channel.get("type") == "D"
        return self._channel_is_direct[channel_id]


async def connect_identity(rest: MattermostRest, config: Config) -> Identity:
    """Find out who the bot is and resolve the team and watched channels, with clear errors."""
    try:
        me = await rest.me()
    except MattermostError as exc:
        if exc.status == 401:
            raise StartupError(f"{config.source}: mattermost.token: Mattermost refused the token "
                               f"({exc.message or 'session expired'}). Use the bot account's access token.") from None
        raise
    team = await rest.get_team_by_name(config.mattermost.team)
    if team is None:
        raise StartupError(f"{config.source}: mattermost.team: no team named {config.mattermost.team!r} "
                           f"that @{me['username']} can see. Add the bot to the team or fix the name.")
    watched = []
    for name in config.alerts.channels:
        channel = await rest.get_channel_by_name(team["id"], name)
        if channel is None:
            log.warning("%s: alerts.channels: no channel %r in team %s that the bot can see; skipping it",
                        config.source, name, config.mattermost.team)
            continue
        await rest.add_channel_member(channel["id"], me["id"])
        watched.append(channel["id"])
    return Identity(me["id"], me["username"], Team(team["id"], team["name"]), tuple(watched))


async def wait_for_mattermost(rest: MattermostRest, config: Config, max_delay: float = 30.0) -> Identity:
    """Connect at start, waiting out an outage with backoff; configuration mistakes stop the bot."""
    delay = 1.0
    while True:
        try:
            return await connect_identity(rest, config)
        except MattermostError as exc:
            if not exc.is_server_error and not exc.is_rate_limit:
                raise StartupError(f"{config.source}: mattermost: {exc}") from None
            log.warning("Mattermost at %s is not answering (%s); retrying in %.0fs", config.mattermost.url, exc, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


async def build_and_run(config: Config, *, clock: Clock | None = None, on_ready=None,
                        listener_options: dict | None = None) -> None:
    """Open the store, connect to Mattermost and run the bot until cancelled."""
    clock = clock or SystemClock()
    db = await Database.open(config.storage.path)
    try:
        async with MattermostRest(config.mattermost.url, config.mattermost.token) as rest:
            identity = await wait_for_mattermost(rest, config)
            log.info("connected to %s as @%s (team %s)", config.mattermost.url, identity.username, identity.team.name)
            templates = Templates()
            users = UserDirectory(rest.get_user)
            users.remember(identity.user_id, identity.username)
            incidents = IncidentService(
                db, rest, users, templates, clock, team=identity.team, site_url=config.mattermost.url,
                bot_user_id=identity.user_id, bot_username=identity.username,
                channel_prefix=config.incidents.channel_prefix)
            timers = Timers()
            timers.start()
            library = PlaybookLibrary(config.playbooks.dir,
                                      commands=config.commands.names() if config.commands else None,
                                      rules=[rule.name for rule in config.alerts.rules],
                                      on_problems=_problem_reporter(rest, identity, config))
            await library.load()
            tasks = TaskStore(db, clock)
            integrations = _integrations(config)
            engine = PlaybookEngine(db, rest, library, actions(), tasks, timers, clock, users, team_id=identity.team.id,
                                    bot_user_id=identity.user_id, integrations=integrations)
            engine.default_playbook = config.playbooks.default
            engine.incidents = incidents
            updates = StatusUpdates(db, rest, library, timers, clock, users, team_id=identity.team.id,
                                    bot_user_id=identity.user_id)

            paging = Paging(db, rest, timers, clock, users, schedules=config.oncall.schedules,
                            levels=config.oncall.escalation, bot_user_id=identity.user_id,
                            alerts_channel_id=next(iter(identity.watched_channel_ids), ""),
                            policies=config.oncall.policies, limit=config.oncall.page_limit,
                            providers=config.paging, poll=config.oncall.poll,
                            skip_unavailable=config.oncall.skip_unavailable)
            engine.oncall_primary = lambda name: next(iter(paging.on_call_now(name)), None)
            paging.incidents = incidents
            await paging.load_overrides()

            async def incident_ready(incident) -> None:
                await engine.start_run(incident)
                await updates.start(await incident_store.get_incident(db, incident.id))
                await paging.start(await incident_store.get_incident(db, incident.id))

            incidents.on_ready = incident_ready
            redactor = Redactor(config.summary.redaction_rules if config.summary.redaction else (),
                                builtins=config.summary.redaction)
            postmortems = Postmortems(db, rest, templates, clock, users, tasks, timers, bot_user_id=identity.user_id,
                                      redactor=redactor, roles=config.people.roles,
                                      followup_webhook=config.summary.followup_webhook,
                                      archive_on_resolve=config.summary.archive_on_resolve)
            postmortems.library = library
            incidents.on_change += [engine.on_change, updates.on_change, paging.on_change, postmortems.on_change]
            informing = config.informing
            webhook = None
            if informing.webhook_url:
                webhook = OutgoingWebhook(db, clock, url=informing.webhook_url,
                                          secret_header=informing.webhook_header or None, users=users)
                incidents.on_change.append(webhook.on_change)
            incidents.channel_options = engine.channel_options
            commands = LifecycleCommands(incidents, users, templates, bot_username=identity.username,
                                         default_severity=Severity(config.incidents.default_severity),
                                         choose_playbook=engine.choose)
            incidents.roles = config.people.roles
            actors = ActorLookup(rest, users, team_id=identity.team.id, policy=config.people.permissions,
                                 roles=config.people.roles)
            router = CommandRouter([*commands.specs, *RoleCommands(incidents, users, config.people.roles, rest).specs,
                                    *PlaybookCommands(db, engine, library, tasks, rest, clock).specs,
                                    *UpdateCommands(updates).specs, *OncallCommands(paging).specs,
                                    *TimelineCommands(db, users, templates, clock).specs,
                                    *ReportCommands(db, clock).specs,
                                    *SummaryCommands(postmortems, rest, IncidentExporter(db, rest, users, redactor)).specs,
                                    *AlertCommands(db, templates).specs], templates, identity.username, actors)
            alerts = AlertService(
                db, rest, incidents, templates, clock, parsers=default_parsers(config.alerts.patterns),
                rules=config.alerts.rules, origin=AlertOrigin(next(iter(identity.watched_channel_ids), "")))
            alerts.choose_playbook = engine.choose
            await alerts.load()
            listener = WebsocketListener(config.mattermost.url, config.mattermost.token, **(listener_options or {}))
            bot = Bot(db=db, rest=rest, listener=listener, identity=identity, router=router, incidents=incidents,
                      alerts=alerts, users=users, clock=clock, engine=engine)
            bot.curation = TimelineCuration(db, rest, clock, bot_user_id=identity.user_id)
            bot.services = {"playbook-files": library.watch, **await _alert_inputs(config, db, bot, paging)}
            if config.paging:
                bot.services["paging-services"] = paging.watch_services
            if webhook is not None:
                bot.services["update-webhook"] = webhook.run
            if informing.digest_channel:
                digest_channel = await rest.get_channel_by_name(identity.team.id, informing.digest_channel)
                if digest_channel is None:
                    raise StartupError(f"{config.source}: digest.channel: no channel named "
                                       f"{informing.digest_channel!r} in the team")
                await rest.add_channel_member(digest_channel["id"], identity.user_id)
                await Digest(db, rest, timers, clock, templates, channel_id=digest_channel["id"], at=informing.digest_at,
                             timezone=informing.digest_timezone, users=users).start()
            await engine.resume()
            await updates.resume()
            await paging.resume()
            if on_ready is not None:
                on_ready(bot)
            try:
                await bot.run()
            finally:
                timers.shutdown()
                if integrations.zoom is not None:
                    await integrations.zoom().close()
                for provider in config.paging:
                    await provider.close()
    finally:
        await db.close()


def _integrations(config: Config) -> Integrations:
    zoom = None
    if config.integrations.zoom is not None:
        client = ZoomClient(**config.integrations.zoom)
        zoom = lambda: client  # noqa: E731 - one client, its token cached across meetings
    return Integrations(commands=config.commands, zoom=zoom, docker_url=config.integrations.docker_url,
                        mqtt=config.integrations.mqtt, jitsi_base=config.integrations.jitsi_base)


def _problem_reporter(rest: MattermostRest, identity: Identity, config: Config):
    """Playbook file problems go to the log and, when configured, to the admin channel."""

    async def report(problems) -> None:
        for problem in problems:
            log.error("playbook problem: %s", problem)
        if not config.playbooks.admin_channel:
            return
        channel = await rest.get_channel_by_name(identity.team.id, config.playbooks.admin_channel)
        if channel is None:
            log.warning("playbooks.admin_channel: no channel %r", config.playbooks.admin_channel)
            return
        await rest.add_channel_member(channel["id"], identity.user_id)
        lines = "\n".join(f"- `{problem}`" for problem in problems)
        await rest.create_post(channel["id"], f":warning: A playbook file has problems; the last good version "
                                              f"keeps running until it is fixed:\n{lines}")

    return report


async def _alert_inputs(config: Config, db: Database, bot: Bot,
                        paging: Paging) -> dict[str, Callable[[], Awaitable[None]]]:
    """The optional inputs besides Mattermost: the HTTP server (webhooks, buttons) and MQTT."""
    alerts = bot.alerts
    services: dict[str, Callable[[], Awaitable[None]]] = {}
    if config.http is not None:
        http = config.http
        secret = await alert_store.action_secret(db)
        routes = []
        if http.alerts_token:
            routes += AlertReceiver(alerts.handle_alerts, token=http.alerts_token).routes()

        def bound(url: str) -> None:
            alerts.actions = paging.links = ActionLinks(http.public_url or url, secret)
            bot.http_url = url

        routes += action_routes(ActionLinks(http.public_url or "http://unused", secret), alerts.on_click,
                                {PAGE_ACTION: paging.acknowledge_click})
        if http.slash_token:
            routes += slash_routes(http.slash_token, bot.router,
                                   lambda channel_id: incident_store.incident_for_channel(db, channel_id),
                                   bot.send_to_channel, bot.clock.now_ms)
        services["http"] = lambda: serve_http(routes, http.host, http.port, on_bound=bound)
    if config.alerts.mqtt is not None:
        mqtt = config.alerts.mqtt
        source = MqttAlertSource(alerts.handle_alerts, host=mqtt.host, port=mqtt.port, topics=list(mqtt.topics),
                                 client_id=mqtt.client_id, username=mqtt.username, password=mqtt.password)
        services["mqtt"] = source.run
    return services
