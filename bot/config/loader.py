"""Read a config file: interpolate ${VARS} from the environment, check every section against SCHEMA,
and build the Config, or raise ConfigError listing every problem with its file, line and key."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from bot.alerts.rules import load_rules, rules_from_document
from bot.config import values as parse
from bot.config.model import (AlertsConfig, ChatopsConfig, Config, HttpConfig, IncidentsConfig, InformingConfig,
                              IntegrationsConfig, MattermostConfig, PlaybooksConfig, StorageConfig, SummaryConfig)
from bot.config.oncall import oncall_from_document
from bot.config.values import Parser
from bot.incidents.funnel_config import funnel_from_document
from bot.oncall.providers import PagingConfigError, providers_from_config
from bot.people.settings import PeopleConfig, people_from_document
from bot.problems import ConfigError, Problem, did_you_mean, dotted, kind_of, non_empty_text
from bot.yamlsource import YamlDocument, YamlSourceError, load_yaml_file

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# The schema: section -> key -> (required, parser). A parser returns the value or raises ValueError;
# the parsers are in bot.config.values. Sections in WHOLE_SECTIONS are parsed as one value instead.
SCHEMA: dict[str, dict[str, tuple[bool, Parser]]] = {
    "mattermost": {"url": (True, parse.url), "token": (True, non_empty_text), "team": (True, non_empty_text)},
    "storage": {"path": (True, parse.path)},
    "playbooks": {"dir": (True, parse.path), "default": (False, non_empty_text),
                  "admin_channel": (False, parse.optional(non_empty_text))},
    "commands": {},
    "roles": {},
    "permissions": {},
    "oncall": {},
    "paging": {},
    "digest": {"channel": (True, parse.channel_name), "at": (False, parse.clock_time),
               "timezone": (False, parse.timezone)},
    "updates": {"webhook": (False, parse.optional(parse.url)),
                "webhook_header": (False, parse.optional(parse.header))},
    "postmortem": {"followup_webhook": (False, parse.optional(parse.url)),
                   "archive_on_resolve": (False, parse.boolean)},
    "redaction": {"enabled": (False, parse.boolean), "rules": (False, parse.redaction_rules)},
    "integrations": {"zoom": (False, parse.zoom), "docker": (False, parse.docker), "mqtt": (False, parse.mqtt),
                     "jitsi": (False, parse.jitsi)},
    "alerts": {"channels": (False, parse.channel_names), "rules": (False, lambda v: v),
               "rules_file": (False, parse.path), "patterns": (False, parse.patterns), "mqtt": (False, parse.mqtt)},
    "http": {"listen": (False, parse.listen), "public_url": (False, parse.optional(parse.url)),
             "alerts_token": (False, parse.optional(non_empty_text)),
             "slash_token": (False, parse.optional(non_empty_text)),
             "slash_register": (False, parse.boolean), "slash_trigger": (False, parse.slash_trigger)},
    "incidents": {"channel_prefix": (False, parse.channel_prefix), "default_severity": (False, parse.severity)},
    "log_level": {},
    "funnel": {},
    "chatops": {"dir": (False, parse.path), "vars": (False, parse.variables)},
}
REQUIRED_SECTIONS = ("mattermost", "storage", "playbooks")
WHOLE_SECTIONS: dict[str, Parser] = {"log_level": parse.log_level, "commands": parse.commands,
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
    oncall = oncall_from_document(doc, problems)
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


def _chatops(base: Path, values: dict[str, Any], playbooks_dir: Path) -> ChatopsConfig:
    folder = values.get("dir") or Path(playbooks_dir) / "commands"
    return ChatopsConfig(dir=_relative_to(base, folder), variables=values.get("vars", {}))


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
