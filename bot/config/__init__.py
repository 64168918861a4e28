"""The bot's configuration: read once at start, interpolated from the environment, validated with clear errors.

- model: the frozen dataclasses the rest of the bot reads (Config and its sections)
- values: parsers for single values (URLs, ports, channel names, ...), each raising ValueError
- oncall: the oncall section (schedules, escalation levels and policies, page limit)
- loader: SCHEMA, ${VAR} interpolation, config_from_document and load_config
"""
from bot.config.loader import REQUIRED_SECTIONS, SCHEMA, WHOLE_SECTIONS, config_from_document, interpolate, load_config
from bot.config.model import (AlertsConfig, ChatopsConfig, Config, EscalationLevel, EscalationPolicy, HttpConfig,
                              IncidentsConfig, InformingConfig, IntegrationsConfig, MattermostConfig, MqttConfig,
                              OncallConfig, PageLimit, PlaybooksConfig, StorageConfig, SummaryConfig)
from bot.config.values import Parser
from bot.problems import ConfigError

__all__ = [
    "AlertsConfig",
    "ChatopsConfig",
    "Config",
    "ConfigError",
    "EscalationLevel",
    "EscalationPolicy",
    "HttpConfig",
    "IncidentsConfig",
    "InformingConfig",
    "IntegrationsConfig",
    "MattermostConfig",
    "MqttConfig",
    "OncallConfig",
    "PageLimit",
    "Parser",
    "PlaybooksConfig",
    "REQUIRED_SECTIONS",
    "SCHEMA",
    "StorageConfig",
    "SummaryConfig",
    "WHOLE_SECTIONS",
    "config_from_document",
    "interpolate",
    "load_config",
]
