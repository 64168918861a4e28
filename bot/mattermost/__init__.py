"""The Mattermost adapter: REST out (MattermostRest), websocket in (WebsocketListener), typed events."""
from bot.mattermost.errors import CHANNEL_EXISTS, NO_RESPONSE, MattermostError
from bot.mattermost.events import (
    ChannelEvent,
    Connected,
    Event,
    MembershipEvent,
    Post,
    PostChange,
    PostEvent,
    ReactionEvent,
    event_from_frame,
)
from bot.mattermost.policy import RestStats
from bot.mattermost.rest import MattermostRest
from bot.mattermost.websocket import WebsocketListener, is_own_post, websocket_url

__all__ = [
    "CHANNEL_EXISTS",
    "NO_RESPONSE",
    "ChannelEvent",
    "Connected",
    "Event",
    "MattermostError",
    "MattermostRest",
    "MembershipEvent",
    "Post",
    "PostChange",
    "PostEvent",
    "ReactionEvent",
    "RestStats",
    "WebsocketListener",
    "event_from_frame",
    "is_own_post",
    "websocket_url",
]
