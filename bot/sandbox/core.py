"""Wiring of the sandbox's domain: state, websocket hub and the operations that change them."""
from __future__ import annotations

import logging

from .accounts import Accounts
from .actions import PostActions
from .channels import Channels
from .commands import Commands
from .files import Files
from .groups import Groups
from .hub import Hub
from .post_lists import PostLists
from .posting import Posting
from .settings import ServerSettings, version_id
from .state import State
from .statuses import Statuses
from .webhooks import Webhooks

log = logging.getLogger(__name__)


class Core:
    """Everything the REST routes, the websocket endpoint and the seeding API share."""

    def __init__(self, settings: ServerSettings, inactive_ttl: float = 300.0):
        self.settings = settings
        self.state = State()
        self.hub = Hub(self.state, self.version_id, inactive_ttl=inactive_ttl)
        self.accounts = Accounts(self)
        self.channels = Channels(self)
        self.posting = Posting(self)
        self.post_lists = PostLists(self)
        self.files = Files(self)
        self.webhooks = Webhooks(self)
        self.actions = PostActions(self)
        self.commands = Commands(self)
        self.groups = Groups(self)
        self.statuses = Statuses(self)

    def version_id(self) -> str:
        """Return the server version string (X-Version-Id, hello's server_version)."""
        return version_id(self.settings)
