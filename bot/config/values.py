"""Parsers for single config values: each takes the raw YAML value and returns it typed, or raises ValueError.

The loader's SCHEMA maps every key to one of these; the message of the ValueError is what the user sees,
next to the file, line and key.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.alerts.model import AlertSeverity
from bot.alerts.parsers.generic import GenericRule
from bot.config.model import MqttConfig
from bot.problems import did_you_mean, kind_of, non_empty_text
from bot.reports.redaction import RedactionConfigError, custom_rule
from bot.workflow.integrations.commands import CommandAllowList, CommandConfigError

_CHANNEL_NAME = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")

# A parser returns the value or raises ValueError.
Parser = Callable[[Any], Any]


def url(value: Any) -> str:
    text = non_empty_text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def path(value: Any) -> Path:
    return Path(non_empty_text(value)).expanduser()


def channel_names(value: Any) -> tuple[str, ...]:
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


def severity(value: Any) -> str:
    text = non_empty_text(value).lower()
    if text not in ("sev1", "sev2", "sev3", "sev4"):
        raise ValueError(f"must be one of sev1, sev2, sev3, sev4, got {text!r}")
    return text


def channel_prefix(value: Any) -> str:
    text = non_empty_text(value)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,19}", text):
        raise ValueError("must be 1-20 lowercase letters, digits or '-', starting with a letter or digit")
    return text


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or not 0 <= int(value) < 65536:
        raise ValueError(f"must be a port number (0-65535), got {value!r}")
    return int(value)


def slash_trigger(value: Any) -> str:
    """A slash command trigger as Mattermost takes it: 1-128 characters, no leading slash, no spaces."""
    text = non_empty_text(value)
    if text.startswith("/") or any(c.isspace() for c in text) or len(text) > 128:
        raise ValueError(f"must be a trigger word like incident (1-128 characters, no leading / and no spaces), "
                         f"got {text!r}")
    return text.lower()


def listen(value: Any) -> tuple[str, int]:
    host, _, port = non_empty_text(value).rpartition(":")
    if not host:
        raise ValueError(f"must be host:port, for example 0.0.0.0:8080, got {value!r}")
    return host.strip("[]"), _port(port)


def mqtt(value: Any) -> MqttConfig:
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


def patterns(value: Any) -> tuple[Any, ...]:
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


def zoom(value: Any) -> dict[str, str]:
    required, optional = {"account_id", "client_id", "client_secret"}, {"oauth_base", "api_base"}
    if not isinstance(value, dict) or not required <= set(value) or set(value) - required - optional:
        raise ValueError("must be a mapping with account_id, client_id and client_secret (a server-to-server app), "
                         "and optionally oauth_base and api_base")
    return {key: url(raw) if key in optional else non_empty_text(raw) for key, raw in value.items()}


def docker(value: Any) -> str:
    if not isinstance(value, dict) or set(value) != {"url"}:
        raise ValueError("must be a mapping with url (unix:///var/run/docker.sock or http://host:2375)")
    return non_empty_text(value["url"])


def jitsi(value: Any) -> str:
    if not isinstance(value, dict) or set(value) != {"base"}:
        raise ValueError("must be a mapping with base (like https://meet.jit.si)")
    return url(value["base"])


def commands(value: Any) -> Any:
    try:
        return CommandAllowList.from_config(value or {})
    except CommandConfigError as exc:
        raise ValueError(str(exc)) from None


def channel_name(value: Any) -> str:
    return channel_names([value])[0]


def clock_time(value: Any) -> str:
    text = non_empty_text(value)
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"must be a time like 09:00 (quote it in YAML), not {value!r}")
    return text


def timezone(value: Any) -> str:
    text = non_empty_text(value)
    try:
        ZoneInfo(text)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"{text!r} is not a time zone (like Europe/Berlin or UTC)") from None
    return text


def header(value: Any) -> str:
    text = non_empty_text(value)
    if ":" not in text or not text.split(":", 1)[0].strip():
        raise ValueError("must be 'Header-Name: value'")
    return text


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {kind_of(value)}")
    return value


def redaction_rules(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of rules: {name, pattern, replacement?}")
    try:
        return tuple(custom_rule(spec, index) for index, spec in enumerate(value))
    except RedactionConfigError as exc:
        raise ValueError(str(exc)) from None


def optional(parse: Parser) -> Parser:
    """An optional setting: empty (for example an unset ${VAR:-}) means off."""
    def parse_or_empty(value: Any) -> Any:
        return "" if value is None or (isinstance(value, str) and not value.strip()) else parse(value)
    return parse_or_empty


def variables(value: Any) -> dict[str, str]:
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


def log_level(value: Any) -> str:
    text = non_empty_text(value).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {text!r}")
    return text
