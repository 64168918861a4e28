"""Wiring: the Mattermost adapter in, the core deciding, the store and REST out, under one TaskGroup."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from bot.alerts.buttons import ActionLinks, action_routes
from bot.alerts.http_source import AlertReceiver
from bot.alerts.mqtt_source import MqttAlertSource
from bot.alerts.parsers import default_parsers
from bot.alerts.service import AlertOrigin, AlertService
from bot.chat.actors import ActorLookup
from bot.chat.alert_commands import AlertCommands
from bot.chat.handlers import LifecycleCommands
from bot.chat.link_commands import LinkCommands
from bot.chat.playbook_commands import PlaybookCommands
from bot.chat.oncall_commands import OncallCommands
from bot.chat.report_commands import ReportCommands
from bot.chat.role_commands import RoleCommands
from bot.chat.summary_commands import SummaryCommands
from bot.chat.timeline_commands import TimelineCommands
from bot.chat.update_commands import UpdateCommands
from bot.chat.router import CommandRouter
from bot.chat.slash import SLASH_DESCRIPTION, SLASH_PATH, autocomplete_hint, register_slash_command, slash_routes
from bot.chat.commands import BUILTIN_WORDS
from bot.chatops.chat import custom_specs, runs_spec
from bot.chatops.library import CommandLibrary
from bot.chatops.runner import CONFIRM_ACTION, CommandRunner
from bot.clock import Clock, SystemClock
from bot.config import Config, HttpConfig
from bot.http_server import serve_http
from bot.incidents.model import Severity
from bot.incidents.service import IncidentService, Team
from bot.incidents.curation import TimelineCuration
from bot.incidents.digest import Digest
from bot.incidents.outgoing import OutgoingWebhook
from bot.incidents.paging import PAGE_ACTION, Paging
from bot.incidents.postmortem import Postmortems
from bot.incidents.related import RelatedActivity
from bot.incidents.updates import StatusUpdates
from bot.mattermost.errors import MattermostError
from bot.mattermost.rest import MattermostRest
from bot.mattermost.websocket import WebsocketListener
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
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

from bot.runtime import Bot, Identity

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The bot cannot start with this configuration; the message says which setting and why."""


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
            builtin_specs = [*commands.specs, *RoleCommands(incidents, users, config.people.roles, rest).specs,
                                    *PlaybookCommands(db, engine, library, tasks, rest, clock).specs,
                                    *UpdateCommands(updates).specs, *OncallCommands(paging).specs,
                                    *TimelineCommands(db, users, templates, clock).specs,
                                    *LinkCommands(db, rest, users, clock, site_url=config.mattermost.url,
                                                  team_name=identity.team.name, bot_username=identity.username).specs,
                                    *ReportCommands(db, clock).specs,
                                    *SummaryCommands(postmortems, rest, IncidentExporter(db, rest, users, redactor)).specs,
                                    *AlertCommands(db, templates).specs]
            reserved = {*BUILTIN_WORDS, *(word for spec in builtin_specs for word in (spec.name, *spec.aliases))}
            command_files, chatops = await _custom_commands(config, db, rest, clock, users, engine, integrations,
                                                            identity, reserved)
            incidents.on_change.append(chatops.on_change)
            router = CommandRouter([*builtin_specs, runs_spec(chatops)], templates, identity.username, actors)
            router.use_custom(custom_specs(chatops))

            def commands_changed(commands) -> None:
                chatops.commands = dict(commands)
                router.use_custom(custom_specs(chatops))

            command_files.on_change = commands_changed
            alerts = AlertService(
                db, rest, incidents, templates, clock, parsers=default_parsers(config.alerts.patterns),
                rules=config.alerts.rules, origin=AlertOrigin(next(iter(identity.watched_channel_ids), "")))
            alerts.choose_playbook = engine.choose
            await alerts.load()
            related = None
            if config.funnel.rules:
                related = RelatedActivity(db, rest, users, templates, clock, config=config.funnel, team=identity.team,
                                          site_url=config.mattermost.url, bot_user_id=identity.user_id)
                await related.connect()
                alerts.on_alert = related.on_alert
            listener = WebsocketListener(config.mattermost.url, config.mattermost.token, **(listener_options or {}))
            bot = Bot(db=db, rest=rest, listener=listener, identity=identity, router=router, incidents=incidents,
                      alerts=alerts, users=users, clock=clock, engine=engine)
            bot.curation = TimelineCuration(db, rest, clock, bot_user_id=identity.user_id)
            bot.services = {"playbook-files": library.watch, "command-files": command_files.watch,
                            **await _alert_inputs(config, db, bot, paging, chatops)}
            if config.paging:
                bot.services["paging-services"] = paging.watch_services
            if related is not None:
                bot.related = related
                bot.services["related-activity"] = related.run
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


async def _custom_commands(config: Config, db: Database, rest: MattermostRest, clock: Clock, users: UserDirectory,
                           engine: PlaybookEngine, integrations: Integrations, identity: Identity,
                           reserved: set[str]) -> tuple[CommandLibrary, CommandRunner]:
    """The operator's commands from `chatops.dir` (watched for edits; problems reported like playbooks')."""
    files = CommandLibrary(config.chatops.dir or config.playbooks.dir / "commands",
                           allow_list=config.commands.names() if config.commands else None,
                           roles=config.people.roles, reserved=reserved,
                           on_problems=_problem_reporter(rest, identity, config))
    await files.reload_if_changed()
    runner = CommandRunner(db, rest, clock, users, commands=files.commands, integrations=integrations,
                           variables=config.chatops.variables, bot_user_id=identity.user_id, engine=engine)
    await runner.resume()
    return files, runner


def _integrations(config: Config) -> Integrations:
    zoom = None
    if config.integrations.zoom is not None:
        client = ZoomClient(**config.integrations.zoom)
        zoom = lambda: client  # noqa: E731 - one client, its token cached across meetings
    return Integrations(commands=config.commands, zoom=zoom, docker_url=config.integrations.docker_url,
                        mqtt=config.integrations.mqtt, jitsi_base=config.integrations.jitsi_base)


def _problem_reporter(rest: MattermostRest, identity: Identity, config: Config):
    """Problems in playbook and command files go to the log and, when configured, to the admin channel."""

    async def report(problems) -> None:
        for problem in problems:
            log.error("file problem: %s", problem)
        if not config.playbooks.admin_channel:
            return
        channel = await rest.get_channel_by_name(identity.team.id, config.playbooks.admin_channel)
        if channel is None:
            log.warning("playbooks.admin_channel: no channel %r", config.playbooks.admin_channel)
            return
        await rest.add_channel_member(channel["id"], identity.user_id)
        lines = "\n".join(f"- `{problem}`" for problem in problems)
        await rest.create_post(channel["id"], f":warning: A playbook or command file has problems; the last good version "
                                              f"keeps running until it is fixed:\n{lines}")

    return report


async def _alert_inputs(config: Config, db: Database, bot: Bot, paging: Paging,
                        chatops: CommandRunner) -> dict[str, Callable[[], Awaitable[None]]]:
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
            alerts.actions = paging.links = chatops.links = ActionLinks(http.public_url or url, secret)
            bot.http_url = url

        routes += action_routes(ActionLinks(http.public_url or "http://unused", secret), alerts.on_click,
                                {PAGE_ACTION: paging.acknowledge_click, CONFIRM_ACTION: chatops.confirm_click})
        slash_token = await _slash_token(http, bot)
        if slash_token:
            routes += slash_routes(slash_token, bot.router,
                                   lambda channel_id: incident_store.incident_for_channel(db, channel_id),
                                   bot.send_to_channel, bot.clock.now_ms)
        services["http"] = lambda: serve_http(routes, http.host, http.port, on_bound=bound)
    if config.alerts.mqtt is not None:
        mqtt = config.alerts.mqtt
        source = MqttAlertSource(alerts.handle_alerts, host=mqtt.host, port=mqtt.port, topics=list(mqtt.topics),
                                 client_id=mqtt.client_id, username=mqtt.username, password=mqtt.password)
        services["mqtt"] = source.run
    return services


async def _slash_token(http: HttpConfig, bot: Bot) -> str:
    """The token `/incident` requests must carry: the registered command's, or else http.slash_token ("" = off)."""
    if not http.slash_register:
        return http.slash_token
    url = http.public_url + SLASH_PATH
    try:
        return await register_slash_command(bot.rest, bot.identity.team.id, http.slash_trigger, url,
                                            autocomplete_hint(bot.router.registry.specs), SLASH_DESCRIPTION)
    except MattermostError as exc:
        why = (f"@{bot.identity.username} may not manage slash commands in team {bot.identity.team.name}"
               if exc.status in (401, 403) else "Mattermost did not take the command")
        fallback = ("using http.slash_token meanwhile" if http.slash_token
                    else f"/{http.slash_trigger} is off until then")
        log.warning("http.slash_register: %s (%s). Make the bot a team admin, or create /%s by hand (README: "
                    "\"The /incident slash command\": request URL %s, method POST) and put its token into "
                    "http.slash_token; %s.", why, exc, http.slash_trigger, url, fallback)
        return http.slash_token
