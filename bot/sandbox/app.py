"""The aiohttp application: middleware, header stamping, and every route module."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .actions import ActionRoutes
from .api_channels import ChannelRoutes
from .api_commands import CommandRoutes
from .api_files import FileRoutes
from .api_groups import GroupRoutes
from .api_hooks import HookRoutes
from .api_posts import PostRoutes
from .api_status import StatusRoutes
from .api_system import SystemRoutes
from .api_teams import TeamRoutes
from .api_users import UserRoutes
from .controls import ControlRoutes
from .middleware import build_header_hook, build_middleware
from .websocket import WebsocketEndpoint

if TYPE_CHECKING:
    from .server import Sandbox

log = logging.getLogger(__name__)

API_ROOT = "/api/v4"


def build_app(sandbox: Sandbox, ws_ping_interval: float, ws_auth_timeout: float) -> web.Application:
    """Return the application serving REST v4, /hooks, the websocket and the sandbox controls on one port."""
    core, runtime = sandbox.core, sandbox.runtime
    app = web.Application(middlewares=[build_middleware(core, runtime)],
                          client_max_size=core.settings.max_file_size + 1024 * 1024)
    app.on_response_prepare.append(build_header_hook(core, runtime))
    router = app.router
    WebsocketEndpoint(core, ws_ping_interval, ws_auth_timeout).register(router, API_ROOT)
    SystemRoutes(core, lambda: runtime.rate).register(router, API_ROOT)
    StatusRoutes(core).register(router, API_ROOT)
    UserRoutes(core).register(router, API_ROOT)
    GroupRoutes(core).register(router, API_ROOT)
    TeamRoutes(core).register(router, API_ROOT)
    ChannelRoutes(core).register(router, API_ROOT)
    PostRoutes(core).register(router, API_ROOT)
    ActionRoutes(core).register(router, API_ROOT)
    FileRoutes(core).register(router, API_ROOT)
    HookRoutes(core).register(router, API_ROOT)
    CommandRoutes(core).register(router, API_ROOT)
    ControlRoutes(sandbox).register(router)
    return app
