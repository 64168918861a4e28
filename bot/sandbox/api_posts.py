"""REST routes: posts, post lists, pins and reactions."""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_body_param, permission_denied
from .http_util import OK, caller, json_body, json_object, json_response, paging, path_id, query_bool, query_int

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

PID = "{post_id:[A-Za-z0-9]+}"
EMOJI_NAME = re.compile(r"^[a-zA-Z0-9\-+_]{1,64}$")


class PostRoutes:
    """Posts and reactions."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_post(api + "/posts", self.create)
        router.add_post(api + "/posts/ids", self.by_ids)
        router.add_post(api + "/posts/ephemeral", self.create_ephemeral)
        router.add_get(api + f"/posts/{PID}", self.get)
        router.add_put(api + f"/posts/{PID}", self.update)
        router.add_delete(api + f"/posts/{PID}", self.delete)
        router.add_put(api + f"/posts/{PID}/patch", self.patch)
        router.add_post(api + f"/posts/{PID}/pin", self.pin)
        router.add_post(api + f"/posts/{PID}/unpin", self.unpin)
        router.add_get(api + f"/posts/{PID}/thread", self.thread)
        router.add_get(api + f"/posts/{PID}/reactions", self.reactions)
        router.add_get(api + f"/posts/{PID}/files/info", self.file_infos)
        router.add_get(api + "/channels/{channel_id:[A-Za-z0-9]+}/posts", self.channel_posts)
        router.add_get(api + "/channels/{channel_id:[A-Za-z0-9]+}/pinned", self.pinned)
        router.add_post(api + "/reactions", self.add_reaction)
        router.add_delete(api + f"/users/{{user_id:[A-Za-z0-9]+}}/posts/{PID}/reactions/{{emoji_name}}",
                          self.remove_reaction)

    # ---------------------------------------------------------------- helpers
    def readable_post(self, request: web.Request, user: dict) -> dict:
        """Return the live post named by the URL if the user may read its channel."""
        post = self.core.posting.get_live(path_id(request, "post_id"))
        if not self.state.can_read_channel(user, self.state.channels[post["channel_id"]]):
            raise permission_denied()
        return post

    def readable_channel(self, request: web.Request, user: dict) -> dict:
        """Return the channel named by the URL if the user may read it."""
        channel = self.state.channels.get(path_id(request, "channel_id"))
        if channel is None:
            raise AppError(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
        if not self.state.can_read_channel(user, channel):
            raise permission_denied()
        return channel

    # ---------------------------------------------------------------- posts
    async def create_ephemeral(self, request: web.Request) -> web.Response:
        """Show a post to one user (POST /posts/ephemeral): needs create_post_ephemeral (system admins)."""
        user = caller(request)
        body = await json_object(request, "post")
        if not self.state.is_admin(user):
            raise permission_denied()
        post = body.get("post")
        target = body.get("user_id")
        if not isinstance(target, str) or target not in self.state.users:
            raise invalid_body_param("user_id")
        if not isinstance(post, dict) or not isinstance(post.get("channel_id"), str) \
                or post["channel_id"] not in self.state.channels:
            raise invalid_body_param("post")
        props = post.get("props") if isinstance(post.get("props"), dict) else None
        sent = self.core.posting.send_ephemeral(target, post["channel_id"], str(post.get("message") or ""),
                                                root_id=str(post.get("root_id") or ""), props=props)
        return json_response(sent, 201)

    async def create(self, request: web.Request) -> web.Response:
        """Create a post: 201 Post (a retried pending_post_id returns the first post)."""
        user = caller(request)
        body = await json_object(request, "post")
        channel_id = body.get("channel_id")
        if not isinstance(channel_id, str) or not channel_id:
            raise invalid_body_param("channel_id")
        props = body.get("props") if isinstance(body.get("props"), dict) else None
        file_ids = body.get("file_ids") if isinstance(body.get("file_ids"), list) else None
        post = self.core.posting.create_post(
            user, channel_id, str(body.get("message") or ""), root_id=str(body.get("root_id") or ""),
            props=props, file_ids=file_ids, pending_post_id=str(body.get("pending_post_id") or ""),
            post_type=str(body.get("type") or ""), set_online=query_bool(request, "set_online", True))
        return json_response(post, 201)

    async def by_ids(self, request: web.Request) -> web.Response:
        """Return the readable posts among the given ids."""
        user = caller(request)
        ids = await json_body(request, "post_ids")
        if not isinstance(ids, list):
            raise invalid_body_param("post_ids")
        found = [self.state.posts.get(i) for i in ids if isinstance(i, str)]
        return json_response([self.core.posting.for_client(p) for p in found if p and not p["delete_at"]
                              and self.state.can_read_channel(user, self.state.channels[p["channel_id"]])])

    async def get(self, request: web.Request) -> web.Response:
        """Return a post."""
        return json_response(self.core.posting.for_client(self.readable_post(request, caller(request))))

    async def patch(self, request: web.Request) -> web.Response:
        """Patch a post: only the keys present change; props replaces the map."""
        user = caller(request)
        post = self.readable_post(request, user)
        body = await json_object(request, "post")
        return json_response(self.core.posting.patch_post(post, body, user))

    async def update(self, request: web.Request) -> web.Response:
        """Update a post (PUT /posts/{id}): message, props and file_ids from the body."""
        user = caller(request)
        post = self.readable_post(request, user)
        body = await json_object(request, "post")
        if body.get("id") not in (None, post["id"]):
            raise invalid_body_param("id")
        patch = {k: body[k] for k in ("message", "props", "file_ids", "is_pinned", "has_reactions") if k in body}
        return json_response(self.core.posting.patch_post(post, patch, user))

    async def delete(self, request: web.Request) -> web.Response:
        """Delete a post (and its replies)."""
        user = caller(request)
        self.core.posting.delete_post(self.readable_post(request, user), user)
        return json_response(OK)

    async def pin(self, request: web.Request) -> web.Response:
        """Pin a post; publishes post_edited."""
        user = caller(request)
        self.core.posting.set_pinned(self.readable_post(request, user), True, user)
        return json_response(OK)

    async def unpin(self, request: web.Request) -> web.Response:
        """Unpin a post; publishes post_edited."""
        user = caller(request)
        self.core.posting.set_pinned(self.readable_post(request, user), False, user)
        return json_response(OK)

    async def thread(self, request: web.Request) -> web.Response:
        """Return the post's whole thread as a PostList."""
        post = self.readable_post(request, caller(request))
        return json_response(self.core.post_lists.thread(post["id"]))

    async def file_infos(self, request: web.Request) -> web.Response:
        """Return the FileInfos attached to a post."""
        post = self.readable_post(request, caller(request))
        return json_response([self.state.files[f] for f in post["file_ids"]])

    async def channel_posts(self, request: web.Request) -> web.Response:
        """Return a PostList of a channel (page/per_page, before, after, since)."""
        user = caller(request)
        channel = self.readable_channel(request, user)
        page, per_page = paging(request)
        include_deleted = query_bool(request, "include_deleted") and self.state.is_admin(user)
        result = self.core.post_lists.channel_posts(
            channel["id"], page=page, per_page=per_page, since=query_int(request, "since", 0),
            before=request.query.get("before", ""), after=request.query.get("after", ""),
            include_deleted=include_deleted, skip_fetch_threads=query_bool(request, "skipFetchThreads"))
        return json_response(result)

    async def pinned(self, request: web.Request) -> web.Response:
        """Return the channel's pinned posts as a PostList."""
        channel = self.readable_channel(request, caller(request))
        return json_response(self.core.post_lists.pinned(channel["id"]))

    # ---------------------------------------------------------------- reactions
    async def reactions(self, request: web.Request) -> web.Response:
        """List a post's reactions."""
        post = self.readable_post(request, caller(request))
        return json_response(self.state.reactions.get(post["id"], []))

    async def add_reaction(self, request: web.Request) -> web.Response:
        """Add a reaction as the caller: 200 Reaction; publishes reaction_added."""
        user = caller(request)
        body = await json_object(request, "reaction")
        if body.get("user_id") != user["id"]:
            raise AppError(403, "api.reaction.save_reaction.user_id.app_error",
                           "You cannot save reaction for the other user.")
        post_id, emoji = body.get("post_id"), body.get("emoji_name")
        if not isinstance(post_id, str) or len(post_id) != 26:
            raise invalid_body_param("post_id")
        if not isinstance(emoji, str) or not EMOJI_NAME.match(emoji):
            raise invalid_body_param("emoji_name")
        post = self.state.posts.get(post_id)
        if post is None or post["delete_at"]:
            raise permission_denied()
        if not (self.state.is_admin(user) or self.state.is_member(post["channel_id"], user["id"])):
            raise permission_denied()
        return json_response(self.core.posting.add_reaction(post, user, emoji))

    async def remove_reaction(self, request: web.Request) -> web.Response:
        """Remove one of the caller's reactions; publishes reaction_removed."""
        user = caller(request)
        user_id = path_id(request, "user_id", allow_me=True)
        if user_id != user["id"] and not self.state.is_admin(user):
            raise permission_denied()
        post = self.readable_post(request, user)
        self.core.posting.remove_reaction(post, user_id, request.match_info["emoji_name"])
        return json_response(OK)
