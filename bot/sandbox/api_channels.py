"""REST routes: channels, direct/group channels and channel members."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_body_param, permission_denied
from .http_util import OK, caller, json_body, json_object, json_response, paging, path_id, query_bool

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

CID = "{channel_id:[A-Za-z0-9]+}"
NAME = "{channel_name:[A-Za-z0-9_\\-]+}"
DEFAULT_CHANNEL = "town-square"


def channel_not_found() -> AppError:
    """Return the 404 for an unknown channel id."""
    return AppError(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")


def channel_name_not_found() -> AppError:
    """Return the 404 of a lookup by name (also used to hide private channels)."""
    return AppError(404, "app.channel.get_by_name.missing.app_error", "Channel does not exist.")


class ChannelRoutes:
    """Channels and their members."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_post(api + "/channels", self.create)
        router.add_post(api + "/channels/direct", self.direct)
        router.add_post(api + "/channels/group", self.group)
        router.add_get(api + f"/channels/{CID}", self.get)
        router.add_delete(api + f"/channels/{CID}", self.archive)
        router.add_put(api + f"/channels/{CID}/patch", self.patch)
        router.add_get(api + f"/channels/{CID}/members", self.members)
        router.add_post(api + f"/channels/{CID}/members", self.add_members)
        router.add_get(api + f"/channels/{CID}/members/{{user_id:[A-Za-z0-9]+}}", self.member)
        router.add_delete(api + f"/channels/{CID}/members/{{user_id:[A-Za-z0-9]+}}", self.remove_member)
        router.add_get(api + "/teams/{team_id:[A-Za-z0-9]+}/channels", self.public_channels)
        router.add_get(api + f"/teams/{{team_id:[A-Za-z0-9]+}}/channels/name/{NAME}", self.by_name)
        router.add_get(api + f"/teams/name/{{team_name:[A-Za-z0-9_\\-]+}}/channels/name/{NAME}",
                       self.by_team_and_channel_name)
        router.add_get(api + "/users/{user_id:[A-Za-z0-9]+}/teams/{team_id:[A-Za-z0-9]+}/channels",
                       self.channels_for_user)

    # ---------------------------------------------------------------- helpers
    def channel(self, request: web.Request, readable_by: dict | None = None) -> dict:
        """Return the channel named by the URL; 404 if unknown, 403 if not readable by the given user."""
        channel = self.state.channels.get(path_id(request, "channel_id"))
        if channel is None:
            raise channel_not_found()
        if readable_by is not None and not self.state.can_read_channel(readable_by, channel):
            raise permission_denied()
        return channel

    def _by_name(self, user: dict, team_id: str, name: str, include_deleted: bool) -> dict:
        channel = self.state.channel_by_name(team_id, name)
        if channel is None or (channel["delete_at"] and not include_deleted):
            raise channel_name_not_found()
        if not self.state.can_read_channel(user, channel):
            if channel["type"] != "O":
                raise channel_name_not_found()
            raise permission_denied()
        return channel

    # ---------------------------------------------------------------- channels
    async def create(self, request: web.Request) -> web.Response:
        """Create an open or private channel: 201 Channel."""
        user = caller(request)
        body = await json_object(request, "channel")
        team_id, display_name = body.get("team_id"), body.get("display_name")
        if not isinstance(team_id, str) or not team_id:
            raise invalid_body_param("team_id")
        if not isinstance(display_name, str) or not display_name:
            raise invalid_body_param("display_name")
        if team_id not in self.state.teams or not (self.state.is_admin(user)
                                                   or self.state.is_team_member(team_id, user["id"])):
            raise permission_denied()
        channel = self.core.channels.create_channel(
            team_id, str(body.get("name") or ""), display_name, str(body.get("type") or ""), creator_id=user["id"],
            header=str(body.get("header") or ""), purpose=str(body.get("purpose") or ""))
        return json_response(channel, 201)

    async def direct(self, request: web.Request) -> web.Response:
        """Return (creating if needed) the direct channel of two users: 201 Channel."""
        user = caller(request)
        ids = await json_body(request, "user_ids")
        if not (isinstance(ids, list) and len(ids) == 2 and all(isinstance(i, str) for i in ids)):
            raise invalid_body_param("user_ids")
        if user["id"] not in ids and not self.state.is_admin(user):
            raise permission_denied()
        return json_response(self.core.channels.direct_channel(ids[0], ids[1], user["id"]), 201)

    async def group(self, request: web.Request) -> web.Response:
        """Return (creating if needed) the group channel of 3 to 8 users: 201 Channel."""
        user = caller(request)
        ids = await json_body(request, "user_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise invalid_body_param("user_ids")
        ids = list({*ids, user["id"]})
        return json_response(self.core.channels.group_channel(ids, user["id"]), 201)

    async def get(self, request: web.Request) -> web.Response:
        """Return a channel by id."""
        return json_response(self.channel(request, readable_by=caller(request)))

    async def by_name(self, request: web.Request) -> web.Response:
        """Return a team's channel by name (private channels hidden from non-members)."""
        user = caller(request)
        team_id = path_id(request, "team_id")
        return json_response(self._by_name(user, team_id, request.match_info["channel_name"],
                                           query_bool(request, "include_deleted")))

    async def by_team_and_channel_name(self, request: web.Request) -> web.Response:
        """Return a channel by team name and channel name."""
        user = caller(request)
        team = self.state.team_by_name(request.match_info["team_name"])
        if team is None:
            raise AppError(404, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.")
        return json_response(self._by_name(user, team["id"], request.match_info["channel_name"],
                                           query_bool(request, "include_deleted")))

    async def patch(self, request: web.Request) -> web.Response:
        """Patch display_name/name/header/purpose; publishes channel_updated."""
        user = caller(request)
        channel = self.channel(request, readable_by=user)
        if not self.state.can_manage_channel(user, channel):
            raise permission_denied()
        body = await json_object(request, "channel")
        return json_response(self.core.channels.patch_channel(channel, body, user["id"]))

    async def archive(self, request: web.Request) -> web.Response:
        """Archive a channel."""
        user = caller(request)
        channel = self.channel(request, readable_by=user)
        if not self.state.can_manage_channel(user, channel) or channel["type"] in ("D", "G"):
            raise permission_denied()
        if channel["name"] == DEFAULT_CHANNEL:
            raise AppError(400, "api.channel.delete_channel.cannot.app_error",
                           "Unable to delete the default channel town-square.")
        if not channel["delete_at"]:
            self.core.channels.archive(channel, user["id"])
        return json_response(OK)

    async def public_channels(self, request: web.Request) -> web.Response:
        """List a team's open channels."""
        user = caller(request)
        team_id = path_id(request, "team_id")
        if not (self.state.is_admin(user) or self.state.is_team_member(team_id, user["id"])):
            raise permission_denied()
        page, per_page = paging(request)
        found = [c for c in self.state.channels.values()
                 if c["team_id"] == team_id and c["type"] == "O" and not c["delete_at"]]
        return json_response(found[page * per_page:(page + 1) * per_page])

    async def channels_for_user(self, request: web.Request) -> web.Response:
        """List the channels a user belongs to in a team (direct and group channels included)."""
        actor = caller(request)
        user_id = path_id(request, "user_id", allow_me=True)
        team_id = path_id(request, "team_id")
        if user_id != actor["id"] and not self.state.is_admin(actor):
            raise permission_denied()
        found = [c for c in self.state.channels.values() if c["team_id"] in (team_id, "")
                 and self.state.is_member(c["id"], user_id) and not c["delete_at"]]
        return json_response(found)

    # ---------------------------------------------------------------- members
    async def members(self, request: web.Request) -> web.Response:
        """List a channel's members."""
        channel = self.channel(request, readable_by=caller(request))
        page, per_page = paging(request)
        members = list(self.state.channel_members.get(channel["id"], {}).values())
        return json_response(members[page * per_page:(page + 1) * per_page])

    async def member(self, request: web.Request) -> web.Response:
        """Return one channel member, or 404 for a non-member."""
        channel = self.channel(request, readable_by=caller(request))
        member = self.state.channel_members[channel["id"]].get(path_id(request, "user_id", allow_me=True))
        if member is None:
            raise AppError(404, "app.channel.get_member.missing.app_error",
                           "No channel member found for that user ID and channel ID.")
        return json_response(member)

    async def add_members(self, request: web.Request) -> web.Response:
        """Add one user (user_id) or several (user_ids): 201 ChannelMember or a list of them."""
        actor = caller(request)
        channel = self.channel(request)
        body = await json_object(request, "channel_member")
        many = body.get("user_ids")
        user_ids = many if isinstance(many, list) else [body.get("user_id")]
        if not user_ids or not all(isinstance(u, str) and u for u in user_ids):
            raise invalid_body_param("user_id")
        self_join = user_ids == [actor["id"]] and channel["type"] == "O" and self.state.can_read_channel(actor,
                                                                                                          channel)
        if not (self.state.can_manage_channel(actor, channel) or self_join):
            raise permission_denied()
        members = [self.core.channels.add_member(channel, u, actor_id=actor["id"])[0] for u in user_ids]
        return json_response(members if isinstance(many, list) else members[0], 201)

    async def remove_member(self, request: web.Request) -> web.Response:
        """Remove a user from a channel (oneself, or others as a member/admin)."""
        actor = caller(request)
        channel = self.channel(request, readable_by=actor)
        user_id = path_id(request, "user_id", allow_me=True)
        if user_id != actor["id"] and not self.state.can_manage_channel(actor, channel):
            raise permission_denied()
        if channel["name"] == DEFAULT_CHANNEL:
            raise AppError(400, "api.channel.remove.default.app_error",
                           "Unable to remove user from the default channel town-square.")
        self.core.channels.remove_member(channel, user_id, actor["id"])
        return json_response(OK)
