"""REST routes: system ping and the server config."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from aiohttp import web

from .errors import permission_denied
from .http_util import caller, json_response
from .ids import now_ms
from .settings import client_config_json, config_json

if TYPE_CHECKING:
    from .core import Core
    from .ratelimit import RateLimitSettings

log = logging.getLogger(__name__)


class SystemRoutes:
    """GET /system/ping, /config and /config/client."""

    def __init__(self, core: Core, rate_settings: Callable[[], RateLimitSettings]):
        self.core = core
        self.rate_settings = rate_settings

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_get(api + "/system/ping", self.ping)
        router.add_get(api + "/config", self.config)
        router.add_get(api + "/config/client", self.client_config)

    async def ping(self, request: web.Request) -> web.Response:
        """Answer the health check."""
        return json_response({"status": "OK", "ActiveSearchBackend": "database", "AndroidLatestVersion": "",
                              "AndroidMinVersion": "", "IosLatestVersion": "", "IosMinVersion": "",
                              "server_time": now_ms()})

    async def config(self, request: web.Request) -> web.Response:
        """Return the server config (system admins only)."""
        if not self.core.state.is_admin(caller(request)):
            raise permission_denied()
        return json_response(config_json(self.core.settings, self.rate_settings()))

    async def client_config(self, request: web.Request) -> web.Response:
        """Return the client config (the old string-valued format)."""
        return json_response(client_config_json(self.core.settings))
