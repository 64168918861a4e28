"""Paging providers (PagerDuty, Opsgenie) behind one small interface, and reading them from the config.

Every page is keyed by the incident key (e.g. `INC-12`): it is PagerDuty's `dedup_key` and Opsgenie's alert
`alias`, so triggering twice updates one page, and acknowledge / resolve / the acknowledged poll find it again.

Severity mapping (the bot's sev1..sev4 to each provider's scale):

    bot    PagerDuty payload.severity    Opsgenie priority
    sev1   critical                      P1
    sev2   error                         P2
    sev3   warning                       P3
    sev4   info                          P4

(Opsgenie's P5 is left unused: it is "informational" and the bot never pages below sev4.)

Config (tokens come from the environment; the config only names the variables):

    paging:
      pagerduty:
        token_env: PAGERDUTY_TOKEN                # REST API token: who is on call, and the acknowledged poll
        routing_key_env: PAGERDUTY_ROUTING_KEY    # the service's Events API v2 integration key (32 characters)
        schedule_id: PXXXXXX                      # and/or escalation_policy_id: PYYYYYY
        api_base: https://api.pagerduty.com       # optional
        events_base: https://events.pagerduty.com # optional
      opsgenie:
        key_env: OPSGENIE_API_KEY                 # an API integration key (GenieKey)
        schedule: ops-primary                     # by name; or schedule_id: <the schedule's id>
        api_base: https://api.opsgenie.com        # optional; https://api.eu.opsgenie.com for the EU instance
"""
from __future__ import annotations

import logging
import re
from typing import Any, Mapping, Protocol
from urllib.parse import urlsplit

from bot.oncall.opsgenie import OpsgenieClient
from bot.oncall.pagerduty import PagerDutyClient
from bot.problems import did_you_mean, dotted, kind_of, non_empty_text

log = logging.getLogger(__name__)

PAGERDUTY_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
OPSGENIE_PRIORITY = {"sev1": "P1", "sev2": "P2", "sev3": "P3", "sev4": "P4"}
SOURCE = "incident-bot"

PAGERDUTY_KEYS = ("token_env", "routing_key_env", "schedule_id", "escalation_policy_id", "api_base", "events_base")
OPSGENIE_KEYS = ("key_env", "schedule", "schedule_id", "api_base")
PROVIDER_KEYS = ("pagerduty", "opsgenie")
ROUTING_KEY_LENGTH = 32
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PagingProvider(Protocol):
    """An outside paging service: who is on call, and one page per incident keyed by the incident key."""

    name: str

    async def on_call_emails(self) -> list[str]:
        """The e-mail addresses of who is on call now, first to page first; no duplicates or blanks."""
        ...

    async def trigger(self, incident_key: str, summary: str, severity: str, *,
                      details: Mapping[str, Any] | None = None) -> None:
        """Page for the incident (sev1..sev4); a repeat for the same key updates the same page."""
        ...

    async def acknowledge(self, incident_key: str) -> None:
        """Acknowledge the incident's page: the provider stops notifying people."""
        ...

    async def resolve(self, incident_key: str) -> None:
        """Resolve (close) the incident's page."""
        ...

    async def acknowledged(self, incident_key: str) -> bool:
        """True once someone has taken the page in the provider (acknowledged, or already resolved)."""
        ...

    async def close(self) -> None:
        """Close the HTTP session."""
        ...


class PagerDutyProvider:
    """PagerDuty: on-call people from the REST API, pages through the Events API v2."""

    name = "pagerduty"

    def __init__(self, client: PagerDutyClient, *, routing_key: str, schedule_id: str | None = None,
                 escalation_policy_id: str | None = None) -> None:
        if not routing_key:
            raise ValueError("a routing key (the service's Events API v2 integration key) is required")
        self.client = client
        self.routing_key = routing_key
        self.schedule_id = schedule_id
        self.escalation_policy_id = escalation_policy_id

    async def on_call_emails(self) -> list[str]:
        """Escalation level 1 first, then 2...; within a level by name (the order the client gives)."""
        if not self.schedule_id and not self.escalation_policy_id:
            return []
        people = await self.client.on_call(schedule_id=self.schedule_id,
                                           escalation_policy_id=self.escalation_policy_id)
        return _unique(person.email for person in people)

    async def trigger(self, incident_key: str, summary: str, severity: str, *,
                      details: Mapping[str, Any] | None = None) -> None:
        await self.client.trigger(self.routing_key, incident_key, summary, _mapped(PAGERDUTY_SEVERITY, severity),
                                  SOURCE, details=dict(details) if details else None)

    async def acknowledge(self, incident_key: str) -> None:
        await self.client.acknowledge(self.routing_key, incident_key)

    async def resolve(self, incident_key: str) -> None:
        await self.client.resolve(self.routing_key, incident_key)

    async def acknowledged(self, incident_key: str) -> bool:
        return await self.client.incident_acknowledged(incident_key)

    async def close(self) -> None:
        await self.client.close()


class OpsgenieProvider:
    """Opsgenie: on-call recipients of one schedule, pages as alerts whose alias is the incident key."""

    name = "opsgenie"

    def __init__(self, client: OpsgenieClient, *, schedule: str, identifier_type: str = "name") -> None:
        if not schedule:
            raise ValueError("a schedule (its name, or its id with identifier_type='id') is required")
        self.client = client
        self.schedule = schedule
        self.identifier_type = identifier_type

    async def on_call_emails(self) -> list[str]:
        """The schedule's on-call recipients in Opsgenie's order (Opsgenie usernames are e-mail addresses)."""
        return _unique(await self.client.on_call(self.schedule, identifier_type=self.identifier_type))

    async def trigger(self, incident_key: str, summary: str, severity: str, *,
                      details: Mapping[str, Any] | None = None) -> None:
        await self.client.create_alert(incident_key, summary, priority=_mapped(OPSGENIE_PRIORITY, severity),
                                       source=SOURCE, details=dict(details) if details else None)

    async def acknowledge(self, incident_key: str) -> None:
        await self.client.acknowledge_alert(incident_key, note="Acknowledged in Mattermost", source=SOURCE)

    async def resolve(self, incident_key: str) -> None:
        await self.client.close_alert(incident_key, note="Resolved in Mattermost", source=SOURCE)

    async def acknowledged(self, incident_key: str) -> bool:
        # Opsgenie creates alerts asynchronously: one not there yet counts as not acknowledged.
        return await self.client.alert_acknowledged(incident_key)

    async def close(self) -> None:
        await self.client.close()


def _unique(emails: Any) -> list[str]:
    seen: set[str] = set()
    found = []
    for email in emails:
        email = str(email or "").strip()
        if email and email.lower() not in seen:
            seen.add(email.lower())
            found.append(email)
    return found


def _mapped(table: Mapping[str, str], severity: Any) -> str:
    """The provider's word for a bot severity: 'sev1'..'sev4' (a Severity's value; its enum is taken too)."""
    word = str(getattr(severity, "value", severity)).strip().lower()
    if word not in table:
        raise ValueError(f"severity must be one of {', '.join(table)}, not {severity!r}")
    return table[word]


# ---------------------------------------------------------------------------------------------- config


class PagingConfigError(ValueError):
    """The paging section cannot be used; `problems` lists (path, message) pairs, path from the config root."""

    def __init__(self, problems: list[tuple[tuple, str]]):
        super().__init__("; ".join(f"{dotted(path)}: {message}" for path, message in problems))
        self.problems = problems


def providers_from_config(section: Mapping[str, Any] | None, environ: Mapping[str, str], *,
                          path: tuple = ("paging",)) -> list[PagingProvider]:
    """Build the providers a `paging:` section names, in the order it names them; raise PagingConfigError
    (a ValueError) listing every problem: unknown keys, missing values, unset environment variables."""
    if section is None:
        return []
    reader = _Reader(environ)
    if not isinstance(section, Mapping):
        raise PagingConfigError([(path, f"must be a mapping with pagerduty and/or opsgenie, not {kind_of(section)}")])
    specs: list[tuple[str, dict[str, Any]]] = []
    for key, raw in section.items():
        here = path + (key,)
        if key not in PROVIDER_KEYS:
            reader.problem(here, "unknown paging provider" + (did_you_mean(key, PROVIDER_KEYS)
                                                               or f" (known: {', '.join(PROVIDER_KEYS)})"))
        elif key == "pagerduty":
            specs.append((key, reader.pagerduty(here, raw)))
        else:
            specs.append((key, reader.opsgenie(here, raw)))
    if reader.problems:
        raise PagingConfigError(reader.problems)
    providers: list[PagingProvider] = []
    for key, spec in specs:
        if key == "pagerduty":
            client = PagerDutyClient(spec["token"], **_bases(spec, "api_base", "events_base"))
            providers.append(PagerDutyProvider(client, routing_key=spec["routing_key"],
                                               schedule_id=spec.get("schedule_id"),
                                               escalation_policy_id=spec.get("escalation_policy_id")))
        else:
            client = OpsgenieClient(spec["key"], **_bases(spec, "api_base"))
            providers.append(OpsgenieProvider(client, schedule=spec["schedule"],
                                              identifier_type=spec["identifier_type"]))
    return providers


def _bases(spec: dict[str, Any], *keys: str) -> dict[str, str]:
    return {key: spec[key] for key in keys if key in spec}


class _Reader:
    """Check one provider mapping at a time, collecting every problem instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[tuple[tuple, str]] = []

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append((path, message))

    def mapping(self, path: tuple, raw: Any, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            self.problem(path, f"must be a mapping, not {kind_of(raw)}")
            return {}
        for key in raw:
            if key not in keys:
                self.problem(path + (key,), "unknown key" + (did_you_mean(key, keys)
                                                             or f" (known keys: {', '.join(keys)})"))
        return {key: value for key, value in raw.items() if key in keys}

    def text(self, path: tuple, raw: Any) -> str | None:
        try:
            return non_empty_text(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None

    def secret(self, path: tuple, data: dict[str, Any], key: str, example: str) -> str | None:
        """The value of the environment variable that `key` names."""
        if key not in data:
            self.problem(path, f"{key} is required: the name of the environment variable holding it, e.g. {example}")
            return None
        name = self.text(path + (key,), data[key])
        if name is None:
            return None
        if not _ENV_NAME.fullmatch(name):
            # Never echo the value: it may be the secret itself, pasted where its variable's name belongs.
            self.problem(path + (key,), f"must name an environment variable (letters, digits, _), e.g. {example}; "
                                        "put the secret itself in that variable, not in the config")
            return None
        value = self.environ.get(name, "").strip()
        if not value:
            self.problem(path + (key,), f"environment variable {name} is not set")
            return None
        return value

    def url(self, path: tuple, data: dict[str, Any], key: str, spec: dict[str, Any]) -> None:
        if key not in data:
            return
        value = self.text(path + (key,), data[key])
        if value is None:
            return
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(path + (key,), f"must be an http(s) URL like https://api.example.com, not {value!r}")
            return
        spec[key] = value

    def pagerduty(self, path: tuple, raw: Any) -> dict[str, Any]:
        data = self.mapping(path, raw, PAGERDUTY_KEYS)
        if not isinstance(raw, Mapping):
            return {}
        spec: dict[str, Any] = {"token": self.secret(path, data, "token_env", "PAGERDUTY_TOKEN"),
                                "routing_key": self.secret(path, data, "routing_key_env", "PAGERDUTY_ROUTING_KEY")}
        routing_key = spec["routing_key"]
        if routing_key is not None and len(routing_key) != ROUTING_KEY_LENGTH:
            self.problem(path + ("routing_key_env",),
                         f"environment variable {data['routing_key_env']} holds {len(routing_key)} characters; an "
                         f"Events API v2 integration key has {ROUTING_KEY_LENGTH}")
        for key in ("schedule_id", "escalation_policy_id"):
            if key in data and (value := self.text(path + (key,), data[key])) is not None:
                spec[key] = value
        if "schedule_id" not in data and "escalation_policy_id" not in data:
            self.problem(path, "give schedule_id or escalation_policy_id (or both): whose on-call people to page")
        self.url(path, data, "api_base", spec)
        self.url(path, data, "events_base", spec)
        return spec

    def opsgenie(self, path: tuple, raw: Any) -> dict[str, Any]:
        data = self.mapping(path, raw, OPSGENIE_KEYS)
        if not isinstance(raw, Mapping):
            return {}
        spec: dict[str, Any] = {"key": self.secret(path, data, "key_env", "OPSGENIE_API_KEY")}
        if ("schedule" in data) == ("schedule_id" in data):
            self.problem(path, "give exactly one of schedule (the schedule's name) or schedule_id")
        for key, identifier_type in (("schedule", "name"), ("schedule_id", "id")):
            if key in data and (value := self.text(path + (key,), data[key])) is not None:
                spec["schedule"], spec["identifier_type"] = value, identifier_type
        self.url(path, data, "api_base", spec)
        return spec
