"""Server settings and the config documents (GET /config, GET /config/client) built from them."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from .models import BUILD_NUMBER, SERVER_VERSION
from .ratelimit import RateLimitSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    """The settings a bot can observe; defaults are Mattermost's where they matter."""

    site_url: str = ""
    enable_post_username_override: bool = False
    enable_incoming_webhooks: bool = True
    enable_bot_account_creation: bool = True
    enable_user_access_tokens: bool = True
    enable_file_attachments: bool = True
    max_file_size: int = 100 * 1024 * 1024
    outgoing_integration_requests_timeout: int = 30
    license_sku: str = "enterprise"   # "" (unlicensed, Team Edition), "professional" or "enterprise"
    enable_custom_groups: bool = True
    enable_user_statuses: bool = True

    @property
    def licensed(self) -> bool:
        """Tell whether a license is installed."""
        return bool(self.license_sku)

    @property
    def minimum_professional(self) -> bool:
        """model.MinimumProfessionalLicense: the professional tier or above."""
        return self.license_sku in ("professional", "enterprise")

    @property
    def ldap_groups_feature(self) -> bool:
        """License().Features.LDAPGroups: AD/LDAP groups come with Enterprise, not Professional."""
        return self.license_sku == "enterprise"


def config_hash(settings: ServerSettings) -> str:
    """Return a short hash of the client config, as used in the version id."""
    return hashlib.md5(repr(settings).encode()).hexdigest()[:32]


def version_id(settings: ServerSettings) -> str:
    """Return the X-Version-Id value: version.build.confighash.licensed."""
    return f"{SERVER_VERSION}.{BUILD_NUMBER}.{config_hash(settings)}.{str(settings.licensed).lower()}"


def config_json(settings: ServerSettings, rate: RateLimitSettings) -> dict:
    """Return the parts of GET /config a bot or a conformance check reads."""
    return {
        "ServiceSettings": {
            "SiteURL": settings.site_url, "EnablePostUsernameOverride": settings.enable_post_username_override,
            "EnablePostIconOverride": False, "EnableIncomingWebhooks": settings.enable_incoming_webhooks,
            "EnableOutgoingWebhooks": True, "EnableCommands": True,
            "EnableBotAccountCreation": settings.enable_bot_account_creation,
            "EnableUserAccessTokens": settings.enable_user_access_tokens, "EnableDeveloper": False,
            "EnableReliableWebSockets": True, "ExperimentalEnableHardenedMode": False,
            "OutgoingIntegrationRequestsTimeout": settings.outgoing_integration_requests_timeout,
            "EnableCustomGroups": settings.enable_custom_groups, "EnableUserStatuses": settings.enable_user_statuses,
        },
        "TeamSettings": {"EnableUserCreation": True, "EnableOpenServer": False, "MaxUsersPerTeam": 50},
        "FileSettings": {"EnableFileAttachments": settings.enable_file_attachments,
                         "MaxFileSize": settings.max_file_size, "DriverName": "local"},
        "RateLimitSettings": {"Enable": rate.enabled, "PerSec": rate.per_sec, "MaxBurst": rate.burst,
                              "MemoryStoreSize": rate.memory_store_size, "VaryByRemoteAddr": True,
                              "VaryByUser": False, "VaryByHeader": ""},
    }


def client_config_json(settings: ServerSettings) -> dict:
    """Return GET /config/client?format=old: every value is a string."""
    def flag(value: bool) -> str:
        return "true" if value else "false"
    return {
        "Version": SERVER_VERSION, "BuildNumber": BUILD_NUMBER, "BuildHash": BUILD_NUMBER,
        "BuildEnterpriseReady": "false", "SiteURL": settings.site_url, "SiteName": "Mattermost Sandbox",
        "EnablePostUsernameOverride": flag(settings.enable_post_username_override),
        "EnablePostIconOverride": "false",
        "EnableIncomingWebhooks": flag(settings.enable_incoming_webhooks),
        "EnableBotAccountCreation": flag(settings.enable_bot_account_creation),
        "EnableUserAccessTokens": flag(settings.enable_user_access_tokens),
        "EnableFileAttachments": flag(settings.enable_file_attachments),
        "MaxFileSize": str(settings.max_file_size), "EnableReliableWebSockets": "true",
        "DiagnosticsEnabled": "false", "IsDefaultMarketplace": "false",
    }
