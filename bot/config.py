"""The bot's configuration: read once at start, interpolated from the environment, validated with clear errors."""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from bot.yamlsource import Location, YamlDocument, YamlSourceError, load_yaml_file

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
class PlaybooksConfig:
    dir: Path


@dataclass(frozen=True)
class AlertsConfig:
    channels: tuple[str, ...] = ()


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
    log_level: str = "INFO"
    source: str = "<built in code>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file."""

    location: Location
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.key}: {self.message}" if self.key else f"{self.location}: {self.message}"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason, each with file, line and key."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


# The schema: section -> key -> (required, parser). A parser returns the value or raises ValueError.
Parser = Callable[[Any], Any]


def _string(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"must be a string, not {_kind(value)}")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _url(value: Any) -> str:
    text = _string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def _path(value: Any) -> Path:
    return Path(_string(value)).expanduser()


def _channel_names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"must be a list of channel names, not {_kind(value)}")
    names = []
    for item in value:
        name = _string(item)
        if not _CHANNEL_NAME.match(name) or len(name) > 64:
            raise ValueError(f"{name!r} is not a channel name (the URL name: lowercase letters, digits, - and _)")
        names.append(name)
    return tuple(names)


def _severity(value: Any) -> str:
    text = _string(value).lower()
    if text not in ("sev1", "sev2", "sev3", "sev4"):
        raise ValueError(f"must be one of sev1, sev2, sev3, sev4, got {text!r}")
    return text


def _channel_prefix(value: Any) -> str:
    text = _string(value)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,19}", text):
        raise ValueError("must be 1-20 lowercase letters, digits or '-', starting with a letter or digit")
    return text


def _log_level(value: Any) -> str:
    text = _string(value).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {text!r}")
    return text


SCHEMA: dict[str, dict[str, tuple[bool, Parser]]] = {
    "mattermost": {"url": (True, _url), "token": (True, _string), "team": (True, _string)},
    "storage": {"path": (True, _path)},
    "playbooks": {"dir": (True, _path)},
    "alerts": {"channels": (False, _channel_names)},
    "incidents": {"channel_prefix": (False, _channel_prefix), "default_severity": (False, _severity)},
    "log_level": {},
}
REQUIRED_SECTIONS = ("mattermost", "storage", "playbooks")


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "empty"}.get(type(value), type(value).__name__)


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
        raise ConfigError([Problem(doc.where(()), "", f"the config must be a mapping of sections, not {_kind(root)}")])
    root = _interpolated(doc, (), root, environ, problems)
    values: dict[str, dict[str, Any]] = {}
    for section, value in root.items():
        if section not in SCHEMA:
            problems.append(Problem(doc.where((section,)), str(section), "unknown section" + _did_you_mean(section, SCHEMA)))
            continue
        if section == "log_level":
            try:
                values["log_level"] = {"value": _log_level(value)}
            except ValueError as exc:
                problems.append(Problem(doc.where((section,)), section, str(exc)))
            continue
        if value is None:
            value = {}
        if not isinstance(value, dict):
            problems.append(Problem(doc.where((section,)), section, f"must be a mapping, not {_kind(value)}"))
            continue
        keys = SCHEMA[section]
        parsed: dict[str, Any] = {}
        for key, raw in value.items():
            dotted = f"{section}.{key}"
            if key not in keys:
                problems.append(Problem(doc.where((section, key)), dotted, "unknown key" + _did_you_mean(key, keys)))
                continue
            try:
                parsed[key] = keys[key][1](raw)
            except ValueError as exc:
                problems.append(Problem(doc.where((section, key)), dotted, str(exc)))
        for key, (required, _) in keys.items():
            if required and key not in value:
                problems.append(Problem(doc.where((section,)), f"{section}.{key}", "is required but missing"))
        values[section] = parsed
    for section in REQUIRED_SECTIONS:
        if section not in root:
            problems.append(Problem(doc.where(()), section, "section is required but missing"))
    if problems:
        raise ConfigError(problems)
    base = Path(doc.file).parent if doc.file and not doc.file.startswith("<") else Path(".")
    return Config(
        mattermost=MattermostConfig(**values["mattermost"]),
        storage=StorageConfig(path=_relative_to(base, values["storage"]["path"])),
        playbooks=PlaybooksConfig(dir=_relative_to(base, values["playbooks"]["dir"])),
        alerts=AlertsConfig(**values.get("alerts", {})),
        incidents=IncidentsConfig(**values.get("incidents", {})),
        log_level=values.get("log_level", {}).get("value", "INFO"),
        source=doc.file,
    )


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
