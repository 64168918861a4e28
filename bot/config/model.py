"""The typed configuration: frozen dataclasses the rest of the bot reads, built once by the loader."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from bot.incidents.funnel_config import FunnelConfig
from bot.people.settings import PeopleConfig


@dataclass(frozen=True)
class MattermostConfig:
    url: str
    token: str
    team: str


@dataclass(frozen=True)
class StorageConfig:
    path: Path


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 1883
    topics: tuple[str, ...] = ("alerts/#",)
    client_id: str = "incident-bot"
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class EscalationLevel:
    """Who is paged at one level of escalation, and how long after the incident opened."""

    to: str                 # "schedule:NAME", "schedule:NAME:LAYER", "@user" or "channel" (an @channel in the alerts channel)
    after: int = 0          # seconds


@dataclass(frozen=True)
class EscalationPolicy:
    """Levels for the incidents it matches (by severity and alert labels); the first matching policy wins."""

    name: str
    levels: tuple[EscalationLevel, ...]
    severities: frozenset[str] = frozenset()       # sev1..sev4; empty: any
    labels: tuple[tuple[str, str], ...] = ()       # alert labels that must be equal; empty: any


@dataclass(frozen=True)
class PageLimit:
    """At most `count` pages per person per `per` seconds; the rest are summed up in one message."""

    count: int = 3
    per: int = 600


@dataclass(frozen=True)
class OncallConfig:
    schedules: tuple[Any, ...] = ()                  # bot.oncall.rotation_model.Schedule
    escalation: tuple[EscalationLevel, ...] = ()     # the default policy
    policies: tuple[EscalationPolicy, ...] = ()
    page_limit: PageLimit = PageLimit()
    poll: int = 30                                   # seconds between asking paging services for acknowledgements
    skip_unavailable: bool = False                   # skip people whose Mattermost status is dnd or offline


@dataclass(frozen=True)
class InformingConfig:
    """The daily digest and the outgoing webhook for status updates."""

    digest_channel: str = ""        # channel name; empty: no digest
    digest_at: str = "09:00"
    digest_timezone: str = "UTC"
    webhook_url: str = ""           # empty: no webhook
    webhook_header: str = ""        # "Header-Name: value", sent with every event


@dataclass(frozen=True)
class SummaryConfig:
    """Post-mortems and exports: where follow-ups go, archiving, and redaction."""

    followup_webhook: str = ""
    archive_on_resolve: bool = False
    redaction: bool = True
    redaction_rules: tuple[Any, ...] = ()      # custom rules for bot.reports.redaction.Redactor


@dataclass(frozen=True)
class PlaybooksConfig:
    dir: Path
    default: str = ""             # the playbook for incidents no rule or `applies_to` picks one for
    admin_channel: str = ""       # where problems in playbook files are reported (besides the log)


@dataclass(frozen=True)
class ChatopsConfig:
    """Custom commands: where their files are (default: `commands` inside the playbooks folder) and the
    values their templates see as `vars`."""

    dir: Path | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IntegrationsConfig:
    """External systems playbook actions may use."""

    zoom: dict[str, str] | None = None           # ZoomClient's arguments: account_id, client_id, client_secret, ...
    docker_url: str = ""
    mqtt: MqttConfig | None = None               # where `publish` steps send incident events
    jitsi_base: str = "https://meet.jit.si"


@dataclass(frozen=True)
class AlertsConfig:
    channels: tuple[str, ...] = ()
    rules: tuple[Any, ...] = ()          # bot.alerts.rules.Rule, in order
    patterns: tuple[Any, ...] = ()       # bot.alerts.parsers.generic.GenericRule
    mqtt: MqttConfig | None = None


@dataclass(frozen=True)
class HttpConfig:
    """The bot's own HTTP server: alert webhooks and Mattermost button callbacks."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""      # how Mattermost reaches the bot (button clicks); empty: the address it listens on
    alerts_token: str = ""    # bearer token for the alert webhooks; empty: they are off
    slash_token: str = ""     # the /incident slash command's token (from Mattermost); empty: the endpoint is off
    slash_register: bool = False   # the bot creates/updates its slash command itself (needs public_url)
    slash_trigger: str = "incident"


@dataclass(frozen=True)
class IncidentsConfig:
    channel_prefix: str = "inc"
    default_severity: str = "sev3"


@dataclass(frozen=True)
class Config:
    mattermost: MattermostConfig
    storage: StorageConfig
    playbooks: PlaybooksConfig
    alerts: AlertsConfig = AlertsConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    http: HttpConfig | None = None
    commands: Any = None                              # bot.workflow.integrations.commands.CommandAllowList
    integrations: IntegrationsConfig = IntegrationsConfig()
    people: PeopleConfig = PeopleConfig()
    oncall: OncallConfig = OncallConfig()
    paging: tuple[Any, ...] = ()                     # bot.oncall.providers.PagingProvider: PagerDuty, Opsgenie
    informing: InformingConfig = InformingConfig()
    summary: SummaryConfig = SummaryConfig()
    funnel: FunnelConfig = FunnelConfig()          # related activity brought into incident channels
    chatops: ChatopsConfig = ChatopsConfig()       # custom commands
    log_level: str = "INFO"
    source: str = "<built in code>"
