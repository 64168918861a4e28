"""The bot's configuration: read once at start, interpolated from the environment, validated with clear errors."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.alerts.model import AlertSeverity
from bot.alerts.parsers.generic import GenericRule
from bot.alerts.rules import load_rules, parse_duration, rules_from_document
from bot.incidents.funnel_config import FunnelConfig, funnel_from_document
from bot.oncall.providers import PagingConfigError, providers_from_config
from bot.oncall.schedule_loader import schedules_from_document
from bot.people.settings import PeopleConfig, people_from_document
from bot.reports.redaction import RedactionConfigError, custom_rule
from bot.problems import ConfigError, Problem, did_you_mean, dotted, kind_of, non_empty_text
from bot.workflow.integrations.commands import CommandAllowList, CommandConfigError
from bot.yamlsource import YamlDocument, YamlSourceError, load_yaml_file

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_CHANNEL_NAME = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")


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


# The schema: section -> key -> (required, parser). A parser returns the value or raises ValueError.
Parser = Callable[[Any], Any]



def _url(value: Any) -> str:
    text = non_empty_text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _path(value: Any) -> Path:
    return Path(non_empty_text(value)).expanduser()


def _channel_names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"must be a list of channel names, not {kind_of(value)}")
    names = []
    for item in value:
        name = non_empty_text(item)
        if not _CHANNEL_NAME.match(name) or len(name) > 64:
            raise ValueError(f"{name!r} is not a channel name (the URL name: lowercase letters, digits, - and _)")
        names.append(name)
    return tuple(names)


def _severity(value: Any) -> str:
    text = non_empty_text(value).lower()
    if text not in ("sev1", "sev2", "sev3", "sev4"):
        raise ValueError(f"must be one of sev1, sev2, sev3, sev4, got {text!r}")
    return text


def _channel_prefix(value: Any) -> str:
    text = non_empty_text(value)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,19}", text):
        raise ValueError("must be 1-20 lowercase letters, digits or '-', starting with a letter or digit")
    return text


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or not 0 <= int(value) < 65536:
        raise ValueError(f"must be a port number (0-65535), got {value!r}")
    return int(value)


def _slash_trigger(value: Any) -> str:
    """A slash command trigger as Mattermost takes it: 1-128 characters, no leading slash, no spaces."""
    text = non_empty_text(value)
    if text.startswith("/") or any(c.isspace() for c in text) or len(text) > 128:
        raise ValueError(f"must be a trigger word like incident (1-128 characters, no leading / and no spaces), "
                         f"got {text!r}")
    return text.lower()


def _listen(value: Any) -> tuple[str, int]:
    host, _, port = non_empty_text(value).rpartition(":")
    if not host:
        raise ValueError(f"must be host:port, for example 0.0.0.0:8080, got {value!r}")
    return host.strip("[]"), _port(port)


def _mqtt(value: Any) -> MqttConfig:
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping with host, port, topics, client_id, not {kind_of(value)}")
    known = {"host", "port", "topics", "client_id", "username", "password"}
    for key in value:
        if key not in known:
            raise ValueError(f"unknown key {key!r}" + did_you_mean(key, known))
    if "host" not in value:
        raise ValueError("host is required")
    topics = value.get("topics", ["alerts/#"])
    if not isinstance(topics, list) or not topics:
        raise ValueError("topics must be a non-empty list of MQTT topic filters")
    return MqttConfig(host=non_empty_text(value["host"]), port=_port(value.get("port", 1883)),
                      topics=tuple(non_empty_text(t) for t in topics), client_id=non_empty_text(value.get("client_id", "incident-bot")),
                      username=non_empty_text(value["username"]) if value.get("username") else None,
                      password=str(value["password"]) if value.get("password") else None)


def _patterns(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError(f"must be a list of patterns, not {kind_of(value)}")
    known = {"name", "pattern", "alert_name", "firing_values", "resolved_values", "severity", "labels"}
    patterns = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"[{index}] must be a mapping with name and pattern")
        unknown = [k for k in item if k not in known]
        if unknown:
            raise ValueError(f"[{index}]: unknown key {unknown[0]!r}" + did_you_mean(unknown[0], known))
        options: dict[str, Any] = {"rule_name": str(item.get("name", "")), "pattern": item.get("pattern"),
                                   "alert_name": str(item.get("alert_name", ""))}
        for key in ("firing_values", "resolved_values"):
            if key in item:
                options[key] = tuple(str(v) for v in item[key])
        if "severity" in item:
            try:
                options["default_severity"] = AlertSeverity(str(item["severity"]).lower())
            except ValueError:
                raise ValueError(f"[{index}].severity must be critical, warning or info") from None
        if "labels" in item:
            options["static_labels"] = {str(k): str(v) for k, v in (item["labels"] or {}).items()}
        try:
            patterns.append(GenericRule(**options))
        except ValueError as exc:
            raise ValueError(f"[{index}]: {exc}") from None
    return tuple(patterns)


def _zoom(value: Any) -> dict[str, str]:
    required, optional = {"account_id", "client_id", "client_secret"}, {"oauth_base", "api_base"}
    if not isinstance(value, dict) or not required <= set(value) or set(value) - required - optional:
        raise ValueError("must be a mapping with account_id, client_id and client_secret (a server-to-server app), "
                         "and optionally oauth_base and api_base")
    return {key: _url(raw) if key in optional else non_empty_text(raw) for key, raw in value.items()}


def _docker(value: Any) -> str:
    if not isinstance(value, dict) or set(value) != {"url"}:
        raise ValueError("must be a mapping with url (unix:///var/run/docker.sock or http://host:2375)")
    return non_empty_text(value["url"])


def _jitsi(value: Any) -> str:
    if not isinstance(value, dict) or set(value) != {"base"}:
        raise ValueError("must be a mapping with base (like https://meet.jit.si)")
    return _url(value["base"])


def _commands(value: Any) -> Any:
    try:
        return CommandAllowList.from_config(value or {})
    except CommandConfigError as exc:
        raise ValueError(str(exc)) from None


def _channel_name(value: Any) -> str:
    return _channel_names([value])[0]


def _clock_time(value: Any) -> str:
    text = non_empty_text(value)
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"must be a time like 09:00 (quote it in YAML), not {value!r}")
    return text


def _timezone(value: Any) -> str:
    text = non_empty_text(value)
    try:
        ZoneInfo(text)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"{text!r} is not a time zone (like Europe/Berlin or UTC)") from None
    return text


def _header(value: Any) -> str:
    text = non_empty_text(value)
    if ":" not in text or not text.split(":", 1)[0].strip():
        raise ValueError("must be 'Header-Name: value'")
    return text


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {kind_of(value)}")
    return value


def _redaction_rules(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of rules: {name, pattern, replacement?}")
    try:
        return tuple(custom_rule(spec, index) for index, spec in enumerate(value))
    except RedactionConfigError as exc:
        raise ValueError(str(exc)) from None


def _optional(parse: Parser) -> Parser:
    """An optional setting: empty (for example an unset ${VAR:-}) means off."""
    def parse_or_empty(value: Any) -> Any:
        return "" if value is None or (isinstance(value, str) and not value.strip()) else parse(value)
    return parse_or_empty


def _chatops(base: Path, values: dict[str, Any], playbooks_dir: Path) -> ChatopsConfig:
    folder = values.get("dir") or Path(playbooks_dir) / "commands"
    return ChatopsConfig(dir=_relative_to(base, folder), variables=values.get("vars", {}))


def _variables(value: Any) -> dict[str, str]:
    """Names and values custom command templates see as {{ vars.NAME }}."""
    if not isinstance(value, dict):
        raise ValueError(f"must be a mapping of names to values, like {{prometheus: http://prometheus:9090}}, "
                         f"not {kind_of(value)}")
    result = {}
    for name, item in value.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{name!r} is not a variable name (letters, digits and _)")
        if isinstance(item, (dict, list)) or item is None:
            raise ValueError(f"{name}: must be a single value, not {kind_of(item)}")
        result[name] = str(item).lower() if isinstance(item, bool) else str(item)
    return result


def _log_level(value: Any) -> str:
    text = non_empty_text(value).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {text!r}")
    return text


SCHEMA: dict[str, dict[str, tuple[bool, Parser]]] = {
    "mattermost": {"url": (True, _url), "token": (True, non_empty_text), "team": (True, non_empty_text)},
    "storage": {"path": (True, _path)},
    "playbooks": {"dir": (True, _path), "default": (False, non_empty_text), "admin_channel": (False, _optional(non_empty_text))},
    "commands": {},
    "roles": {},
    "permissions": {},
    "oncall": {},
    "paging": {},
    "digest": {"channel": (True, _channel_name), "at": (False, _clock_time), "timezone": (False, _timezone)},
    "updates": {"webhook": (False, _optional(_url)), "webhook_header": (False, _optional(_header))},
    "postmortem": {"followup_webhook": (False, _optional(_url)), "archive_on_resolve": (False, _boolean)},
    "redaction": {"enabled": (False, _boolean), "rules": (False, _redaction_rules)},
    "integrations": {"zoom": (False, _zoom), "docker": (False, _docker), "mqtt": (False, _mqtt),
                     "jitsi": (False, _jitsi)},
    "alerts": {"channels": (False, _channel_names), "rules": (False, lambda v: v), "rules_file": (False, _path),
               "patterns": (False, _patterns), "mqtt": (False, _mqtt)},
    "http": {"listen": (False, _listen), "public_url": (False, _optional(_url)),
             "alerts_token": (False, _optional(non_empty_text)), "slash_token": (False, _optional(non_empty_text)),
             "slash_register": (False, _boolean), "slash_trigger": (False, _slash_trigger)},
    "incidents": {"channel_prefix": (False, _channel_prefix), "default_severity": (False, _severity)},
    "log_level": {},
    "funnel": {},
    "chatops": {"dir": (False, _path), "vars": (False, _variables)},
}
REQUIRED_SECTIONS = ("mattermost", "storage", "playbooks")
WHOLE_SECTIONS: dict[str, Parser] = {"log_level": _log_level, "commands": _commands,
                                     "roles": lambda value: value, "permissions": lambda value: value,
                                     "oncall": lambda value: value, "paging": lambda value: value,
                                     "funnel": lambda value: value}




def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Replace ${VAR} and ${VAR:-default}; a missing variable without a default raises KeyError."""

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ and environ[name] != "":
            return environ[name]
        if default is not None:
            return default
        raise KeyError(name)

    return _VARIABLE.sub(replace, value)


def _interpolated(doc: YamlDocument, path: tuple, value: Any, environ, problems: list[Problem]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolated(doc, path + (k,), v, environ, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolated(doc, path + (i,), v, environ, problems) for i, v in enumerate(value)]
    if isinstance(value, str):
        try:
            return interpolate(value, environ)
        except KeyError as missing:
            key = ".".join(str(p) for p in path)
            problems.append(Problem(doc.where(path), key,
                                    f"environment variable {missing.args[0]} is not set (use ${{{missing.args[0]}:-default}} for a default)"))
    return value


def config_from_document(doc: YamlDocument, environ: Mapping[str, str] | None = None) -> Config:
    """Validate a parsed config document; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    problems: list[Problem] = []
    root = doc.data
    if not isinstance(root, dict):
        raise ConfigError([Problem(doc.where(()), "", f"the config must be a mapping of sections, not {kind_of(root)}")])
    root = _interpolated(doc, (), root, environ, problems)
    values: dict[str, dict[str, Any]] = {}
    for section, value in root.items():
        if section not in SCHEMA:
            problems.append(Problem(doc.where((section,)), str(section), "unknown section" + did_you_mean(section, SCHEMA)))
            continue
        if section in WHOLE_SECTIONS:
            try:
                values[section] = {"value": WHOLE_SECTIONS[section](value)}
            except ValueError as exc:
                problems.append(Problem(doc.where((section,)), section, str(exc)))
            continue
        if value is None:
            value = {}
        if not isinstance(value, dict):
            problems.append(Problem(doc.where((section,)), section, f"must be a mapping, not {kind_of(value)}"))
            continue
        keys = SCHEMA[section]
        parsed: dict[str, Any] = {}
        for key, raw in value.items():
            name = f"{section}.{key}"
            if key not in keys:
                problems.append(Problem(doc.where((section, key)), name, "unknown key" + did_you_mean(key, keys)))
                continue
            try:
                parsed[key] = keys[key][1](raw)
            except ValueError as exc:
                problems.append(Problem(doc.where((section, key)), name, str(exc)))
        for key, (required, _) in keys.items():
            if required and key not in value:
                problems.append(Problem(doc.where((section,)), f"{section}.{key}", "is required but missing"))
        values[section] = parsed
    for section in REQUIRED_SECTIONS:
        if section not in root:
            problems.append(Problem(doc.where(()), section, "section is required but missing"))
    base = Path(doc.file).parent if doc.file and not doc.file.startswith("<") else Path(".")
    alerts = values.get("alerts", {})
    rules = _rules(doc, base, alerts, problems)
    people = PeopleConfig()
    try:
        people = people_from_document(doc)
    except ConfigError as exc:
        problems.extend(exc.problems)
    oncall = _oncall(doc, problems)
    funnel, funnel_problems = funnel_from_document(doc, root.get("funnel"))
    problems.extend(funnel_problems)
    paging: tuple[Any, ...] = ()
    try:
        paging = tuple(providers_from_config(root.get("paging"), environ))
    except PagingConfigError as exc:
        problems.extend(Problem(doc.where(path), dotted(path), message) for path, message in exc.problems)
    problems.extend(_slash_problems(doc, values.get("http"), problems))
    if problems:
        raise ConfigError(problems)
    return Config(
        mattermost=MattermostConfig(**values["mattermost"]),
        storage=StorageConfig(path=_relative_to(base, values["storage"]["path"])),
        playbooks=PlaybooksConfig(dir=_relative_to(base, values["playbooks"]["dir"]),
                                  default=values["playbooks"].get("default", ""),
                                  admin_channel=values["playbooks"].get("admin_channel", "")),
        commands=values.get("commands", {}).get("value"),
        integrations=_integrations(values.get("integrations", {})),
        people=people,
        summary=SummaryConfig(
            followup_webhook=values.get("postmortem", {}).get("followup_webhook", ""),
            archive_on_resolve=values.get("postmortem", {}).get("archive_on_resolve", False),
            redaction=values.get("redaction", {}).get("enabled", True),
            redaction_rules=values.get("redaction", {}).get("rules", ())),
        oncall=oncall,
        paging=paging,
        funnel=funnel,
        chatops=_chatops(base, values.get("chatops", {}), values["playbooks"]["dir"]),
        informing=InformingConfig(
            digest_channel=values.get("digest", {}).get("channel", ""),
            digest_at=values.get("digest", {}).get("at", "09:00"),
            digest_timezone=values.get("digest", {}).get("timezone", "UTC"),
            webhook_url=values.get("updates", {}).get("webhook", ""),
            webhook_header=values.get("updates", {}).get("webhook_header", "")),
        alerts=AlertsConfig(channels=alerts.get("channels", ()), rules=rules, patterns=alerts.get("patterns", ()),
                            mqtt=alerts.get("mqtt")),
        incidents=IncidentsConfig(**values.get("incidents", {})),
        http=_http(values["http"]) if "http" in values else None,
        log_level=values.get("log_level", {}).get("value", "INFO"),
        source=doc.file,
    )


def _rules(doc: YamlDocument, base: Path, alerts: dict[str, Any], problems: list[Problem]) -> tuple[Any, ...]:
    """Escalation rules: inline under alerts.rules, then those of alerts.rules_file."""
    rules: tuple[Any, ...] = ()
    try:
        rules = rules_from_document(doc, ("alerts", "rules"))
    except ConfigError as exc:
        problems.extend(exc.problems)
    if "rules_file" in alerts:
        try:
            rules += load_rules(_relative_to(base, alerts["rules_file"]))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return rules


def _oncall(doc: YamlDocument, problems: list[Problem]) -> OncallConfig:
    """The on-call schedules and the escalation levels (which may name them)."""
    section = doc.data.get("oncall") if isinstance(doc.data, dict) else None
    if section is None:
        return OncallConfig()
    if not isinstance(section, dict):
        problems.append(Problem(doc.where(("oncall",)), "oncall", f"must be a mapping, not {kind_of(section)}"))
        return OncallConfig()
    keys = ["schedules", "escalation", "policies", "page_limit", "poll", "skip_unavailable"]
    for key in section:
        if key not in keys:
            problems.append(Problem(doc.where(("oncall", key)), f"oncall.{key}", "unknown key" + did_you_mean(key, keys)))
    schedules: tuple[Any, ...] = ()
    try:
        schedules = schedules_from_document(doc, ("oncall", "schedules"))
    except ConfigError as exc:
        problems.extend(exc.problems)
    names = {schedule.name for schedule in schedules}
    levels = []
    raw_levels = section.get("escalation") or []
    if not isinstance(raw_levels, list):
        problems.append(Problem(doc.where(("oncall", "escalation")), "oncall.escalation", "must be a list of levels"))
        raw_levels = []
    for index, raw in enumerate(raw_levels):
        path = ("oncall", "escalation", index)
        key = f"oncall.escalation[{index}]"
        try:
            levels.append(_escalation_level(raw, names))
        except ValueError as exc:
            problems.append(Problem(doc.where(path), key, str(exc)))
    policies = []
    for index, raw in enumerate(section.get("policies") or []):
        try:
            policies.append(_escalation_policy(raw, names))
        except ValueError as exc:
            problems.append(Problem(doc.where(("oncall", "policies", index)), f"oncall.policies[{index}]", str(exc)))
    limit = PageLimit()
    if "page_limit" in section:
        raw = section["page_limit"]
        try:
            if not isinstance(raw, dict) or set(raw) - {"count", "per"}:
                raise ValueError("must be a mapping with count and per, like {count: 3, per: 10m}")
            limit = PageLimit(count=int(raw.get("count", 3)), per=parse_duration(raw.get("per", "10m")))
        except ValueError as exc:
            problems.append(Problem(doc.where(("oncall", "page_limit")), "oncall.page_limit", str(exc)))
    poll = 30
    if "poll" in section:
        try:
            poll = parse_duration(section["poll"])
        except ValueError as exc:
            problems.append(Problem(doc.where(("oncall", "poll")), "oncall.poll", str(exc)))
    skip = section.get("skip_unavailable", False)
    if not isinstance(skip, bool):
        problems.append(Problem(doc.where(("oncall", "skip_unavailable")), "oncall.skip_unavailable",
                                "must be true or false"))
        skip = False
    return OncallConfig(schedules=schedules, escalation=tuple(levels), policies=tuple(policies), page_limit=limit,
                        poll=poll, skip_unavailable=skip)


def _escalation_policy(raw: Any, schedules: set[str]) -> EscalationPolicy:
    if not isinstance(raw, dict) or "levels" not in raw or set(raw) - {"name", "match", "levels"}:
        raise ValueError("must be a mapping with name, match ({severities, labels}) and levels")
    match = raw.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"severities", "labels"}:
        raise ValueError("match takes severities (a list of sev1..sev4) and labels (a mapping)")
    severities = frozenset(_severity(s) for s in match.get("severities") or [])
    labels = tuple(sorted((str(k), str(v)) for k, v in (match.get("labels") or {}).items()))
    if not isinstance(raw["levels"], list) or not raw["levels"]:
        raise ValueError("levels must be a non-empty list")
    return EscalationPolicy(name=non_empty_text(raw.get("name", "policy")),
                            levels=tuple(_escalation_level(level, schedules) for level in raw["levels"]),
                            severities=severities, labels=labels)


def _escalation_level(raw: Any, schedules: set[str]) -> EscalationLevel:
    if not isinstance(raw, dict) or "to" not in raw or set(raw) - {"to", "after"}:
        raise ValueError("must be a mapping with `to` (schedule:NAME[:LAYER], @user or channel) and `after`")
    to = non_empty_text(raw["to"])
    if to.startswith("schedule:"):
        name, _, layer = to[len("schedule:"):].partition(":")
        if name not in schedules:
            raise ValueError(f"no schedule named {name!r}" + did_you_mean(name, sorted(schedules)))
        if layer and not layer.isdigit():
            raise ValueError(f"the layer in {to!r} must be a number (1 = primary, 2 = secondary...)")
    elif not (to.startswith("@") or to in ("channel", "pagerduty", "opsgenie")):
        raise ValueError(f"`to` must be schedule:NAME[:LAYER], @user, pagerduty, opsgenie or channel, not {to!r}")
    return EscalationLevel(to=to, after=parse_duration(raw["after"]) if "after" in raw else 0)


def _integrations(values: dict[str, Any]) -> IntegrationsConfig:
    return IntegrationsConfig(zoom=values.get("zoom"), docker_url=values.get("docker", ""), mqtt=values.get("mqtt"),
                              jitsi_base=values.get("jitsi", "https://meet.jit.si"))


def _http(values: dict[str, Any]) -> HttpConfig:
    host, port = values.get("listen", ("127.0.0.1", 8080))
    return HttpConfig(host=host, port=port, public_url=values.get("public_url", ""),
                      alerts_token=values.get("alerts_token", ""), slash_token=values.get("slash_token", ""),
                      slash_register=values.get("slash_register", False),
                      slash_trigger=values.get("slash_trigger", "incident"))


def _slash_problems(doc: YamlDocument, http: dict[str, Any] | None, problems: list[Problem]) -> list[Problem]:
    """Registering the slash command needs the public URL Mattermost will call."""
    if not http or not http.get("slash_register") or http.get("public_url") \
            or any(p.key == "http.public_url" for p in problems):
        return []
    return [Problem(doc.where(("http", "slash_register")), "http.public_url",
                    "is required when http.slash_register is true: Mattermost calls <public_url>/mattermost/command, "
                    "so set it to the address Mattermost reaches the bot at (like https://incident-bot.example.com)")]


def _relative_to(base: Path, path: Path) -> Path:
    """Relative paths in a config file are relative to the file's folder."""
    return path if path.is_absolute() else base / path


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file."""
    try:
        doc = load_yaml_file(path)
    except YamlSourceError as exc:
        raise ConfigError([Problem(exc.location, "", exc.message)]) from None
    return config_from_document(doc, environ)
