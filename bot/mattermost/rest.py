"""The bot's REST client for Mattermost: typed calls over mattermostautodriver, with our retry policy."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import quote, urlsplit

import httpx
from mattermostautodriver import AsyncTypedDriver

from bot.mattermost.errors import CHANNEL_EXISTS, MattermostError
from bot.mattermost.events import Post
from bot.mattermost.pacing import TokenBucket
from bot.mattermost.policy import RequestPolicy, RestStats, RetrySettings

log = logging.getLogger(__name__)

API = "/api/v4"
SINCE_LIMIT = 1000  # the server returns at most this many posts for one `since` query
PAGE_LIMIT = 200    # the most posts one page of GET /channels/{id}/posts holds
MEMBERS_PAGE = 200  # the server's cap on per_page
GROUPS_PAGE = 200
# Answers that mean "no groups to be had here": 403 (permission or licence feature), 404, 501 (no licence).
NO_GROUPS = frozenset({403, 404, 501})
DUPLICATE_TRIGGER = "api.command.duplicate_trigger.app_error"


class _QuietDriverErrors(logging.Filter):
    """Drop the driver's ERROR echo of every error answer (a 404 lookup is normal); our policy logs failures."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName != "_check_response"


def _quiet_driver_errors() -> None:
    # The driver logs each error answer from client.py under the "mattermostautodriver.websocket" name.
    driver_log = logging.getLogger("mattermostautodriver.websocket")
    if not any(isinstance(f, _QuietDriverErrors) for f in driver_log.filters):
        driver_log.addFilter(_QuietDriverErrors())


def _segment(value: str) -> str:
    """Quote a value for use as one URL path segment (names come from users and config)."""
    return quote(value, safe="")


def _driver_options(
    base_url: str, token: str, timeout: float, verify: bool, transport: httpx.AsyncBaseTransport | None
) -> dict[str, Any]:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Mattermost URL must be http(s)://host[:port], got {base_url!r}")
    if parts.path.strip("/"):
        raise ValueError(f"Mattermost URL must not have a path (the driver cannot use one): {base_url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return {
        "scheme": parts.scheme,
        "url": host,
        "port": parts.port or (443 if parts.scheme == "https" else 80),
        "token": token,
        "request_timeout": timeout,
        "verify": verify,
        "transport": transport,
        "max_retries": 0,  # the policy in bot.mattermost.policy owns retries
    }


class MattermostRest:
    """Everything the bot asks of Mattermost over REST. Lookups that 404 return None; failures raise MattermostError."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        write_rate: float | None = 8.0,
        write_burst: int = 40,
        max_attempts: int = 4,
        backoff_initial: float = 0.25,
        backoff_max: float = 8.0,
        max_rate_limit_wait: float = 60.0,
        verify: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._driver = AsyncTypedDriver(_driver_options(base_url, token, timeout, verify, transport))
        _quiet_driver_errors()
        self._driver.client.token = token
        bucket = TokenBucket(write_rate, write_burst) if write_rate else None
        settings = RetrySettings(
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            max_rate_limit_wait=max_rate_limit_wait,
        )
        self._policy = RequestPolicy(settings, bucket)
        self.user_id = ""

    @property
    def stats(self) -> RestStats:
        """Counters: requests made, 429s seen, retries."""
        return self._policy.stats

    async def __aenter__(self) -> "MattermostRest":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._driver.close()

    async def _call(
        self, method: str, path: str, send: Callable[[], Awaitable[Any]], *, retry_safe: bool = True
    ) -> Any:
        return await self._policy.run(method, path, send, retry_safe=retry_safe)

    async def _lookup(self, path: str, send: Callable[[], Awaitable[Any]]) -> Any | None:
        try:
            return await self._call("GET", path, send)
        except MattermostError as exc:
            if exc.status == 404:
                return None
            raise

    # users and teams

    async def me(self) -> dict[str, Any]:
        """Return the bot's own user, and remember its id in `user_id`."""
        user = await self._call("GET", "/users/me", lambda: self._driver.users.get_user("me"))
        self.user_id = user.get("id", "")
        return user

    async def get_user(self, user_id: str) -> dict[str, Any] | None:
        """Return a user by id, or None."""
        return await self._lookup("/users/{id}", lambda: self._driver.users.get_user(_segment(user_id)))

    async def get_user_by_username(self, username: str) -> dict[str, Any] | None:
        """Return a user by username (without '@'), or None."""
        name = _segment(username.lstrip("@"))
        return await self._lookup("/users/username", lambda: self._driver.users.get_user_by_username(name))

    async def get_user_by_email(self, email: str) -> dict[str, Any] | None:
        """Return a user by e-mail address (the server compares it in lower case), or None."""
        address = _segment(email.strip())
        return await self._lookup("/users/email", lambda: self._driver.users.get_user_by_email(address))

    async def get_users_by_usernames(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """Return the users that exist among `names` (unknown names are left out)."""
        wanted = [n.lstrip("@") for n in names]
        if not wanted:
            return []
        users = await self._call(
            "POST", "/users/usernames", lambda: self._driver.users.get_users_by_usernames(wanted)
        )
        return list(users or [])

    async def get_user_groups(self, user_id: str) -> list[dict[str, Any]]:
        """Return the custom groups a user belongs to (Group JSON); [] when the server will not say.

        GET /users/{id}/groups answers only the user themself or a manage_system holder, and only with
        the Enterprise LDAPGroups licence feature, so a bot with default permissions asks
        GET /groups?filter_has_member={id} instead: any session may, on a Professional licence or above.
        An unlicensed server (501), a refusal (403) or a 404 count as no groups.
        """
        groups: list[dict[str, Any]] = []
        page = 0
        while True:
            params = {"filter_has_member": user_id, "page": page, "per_page": GROUPS_PAGE}
            try:
                batch = await self._call(
                    "GET", "/groups", lambda: self._driver.client.get(f"{API}/groups", params=params)
                )
            except MattermostError as exc:
                if exc.status not in NO_GROUPS:
                    raise
                log.debug("no groups for user %s: %s", user_id, exc)
                return []
            batch = [g for g in (batch if isinstance(batch, list) else []) if isinstance(g, dict)]
            groups.extend(batch)
            if len(batch) < GROUPS_PAGE:
                return groups
            page += 1

    async def get_user_status(self, user_id: str) -> str:
        """Return a user's status: "online", "away", "dnd" or "offline" ("offline" when the server has none)."""
        status = await self._lookup(
            "/users/{id}/status", lambda: self._driver.status.get_user_status(_segment(user_id))
        )
        value = status.get("status") if isinstance(status, dict) else None
        return value if isinstance(value, str) and value else "offline"

    async def get_team_by_name(self, name: str) -> dict[str, Any] | None:
        """Return a team by name, or None."""
        return await self._lookup("/teams/name", lambda: self._driver.teams.get_team_by_name(_segment(name)))

    # slash commands

    async def list_commands(self, team_id: str) -> list[dict[str, Any]]:
        """Return the team's custom slash commands with their tokens (403 without manage_slash_commands)."""
        params = {"team_id": team_id, "custom_only": "true"}
        commands = await self._call(
            "GET", "/commands", lambda: self._driver.client.get(f"{API}/commands", params=params)
        )
        return [c for c in (commands if isinstance(commands, list) else []) if isinstance(c, dict)]

    async def create_command(self, command: dict[str, Any]) -> dict[str, Any]:
        """Create a custom slash command (team_id, trigger, url, method "P", ...); return it with its token.

        If a retry finds that our lost first attempt already made it, return that one.
        """
        try:
            return await self._call(
                "POST", "/commands", lambda: self._driver.client.post(f"{API}/commands", options=command)
            )
        except MattermostError as exc:
            if exc.error_id != DUPLICATE_TRIGGER or not exc.after_retry:
                raise
            trigger = str(command.get("trigger", "")).lower()
            made = next((c for c in await self.list_commands(command["team_id"]) if c.get("trigger") == trigger), None)
            if made is None:
                raise
            return made

    async def update_command(self, command: dict[str, Any]) -> dict[str, Any]:
        """Replace a command by the whole Command object given (its id; team, token and creator stay)."""
        return await self._call(
            "PUT",
            "/commands/{id}",
            lambda: self._driver.commands.update_command(_segment(command["id"]), command),
        )

    # channels

    async def archive_channel(self, channel_id: str) -> None:
        """Archive a channel (Mattermost keeps its history; it is read-only from then on)."""
        await self._call("DELETE", "/channels/{id}", lambda: self._driver.channels.delete_channel(_segment(channel_id)))

    async def is_team_member(self, team_id: str, user_id: str) -> bool:
        """Whether the user belongs to the team."""
        member = await self._lookup("/teams/{id}/members/{user_id}",
                                    lambda: self._driver.teams.get_team_member(_segment(team_id), _segment(user_id)))
        return isinstance(member, dict) and not member.get("delete_at")

    async def is_channel_member(self, channel_id: str, user_id: str) -> bool:
        """Whether the user is a member of the channel."""
        member = await self._lookup("/channels/{id}/members/{user_id}",
                                    lambda: self._driver.channels.get_channel_member(_segment(channel_id),
                                                                                     _segment(user_id)))
        return isinstance(member, dict)

    async def get_channel(self, channel_id: str) -> dict[str, Any] | None:
        """Return a channel by id, or None."""
        return await self._lookup("/channels/{id}", lambda: self._driver.channels.get_channel(_segment(channel_id)))

    async def get_channel_by_name(self, team_id: str, name: str) -> dict[str, Any] | None:
        """Return a team's channel by name, or None."""
        return await self._lookup(
            "/teams/{id}/channels/name",
            lambda: self._driver.channels.get_channel_by_name(_segment(team_id), _segment(name)),
        )

    async def get_my_channels(self, team_id: str) -> list[dict[str, Any]]:
        """Return the channels of a team that the bot is a member of (direct messages included)."""
        channels = await self._call(
            "GET",
            "/users/me/teams/{id}/channels",
            lambda: self._driver.channels.get_channels_for_team_for_user("me", _segment(team_id)),
        )
        return list(channels or [])

    async def create_channel(
        self,
        team_id: str,
        name: str,
        display_name: str,
        *,
        private: bool = False,
        purpose: str = "",
        header: str = "",
    ) -> dict[str, Any]:
        """Create a channel; if a retry finds that our lost first attempt already made it, return that one."""
        kind = "P" if private else "O"
        try:
            return await self._call(
                "POST",
                "/channels",
                lambda: self._driver.channels.create_channel(
                    team_id, name, display_name, kind, purpose=purpose, header=header
                ),
            )
        except MattermostError as exc:
            if exc.error_id != CHANNEL_EXISTS or not exc.after_retry:
                raise
            channel = await self.get_channel_by_name(team_id, name)
            if channel is None:
                raise
            log.info("channel %s already existed after a retried create; using it", name)
            return channel

    async def patch_channel(
        self,
        channel_id: str,
        *,
        header: str | None = None,
        purpose: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Change a channel's header, purpose or display name (None leaves a field as it is)."""
        return await self._call(
            "PUT",
            "/channels/{id}/patch",
            lambda: self._driver.channels.patch_channel(
                _segment(channel_id), header=header, purpose=purpose, display_name=display_name
            ),
        )

    async def add_channel_member(self, channel_id: str, user_id: str) -> dict[str, Any]:
        """Add a user to a channel (adding a member twice is harmless)."""
        return await self._call(
            "POST",
            "/channels/{id}/members",
            lambda: self._driver.channels.add_channel_member(_segment(channel_id), user_id=user_id),
        )

    async def get_channel_members(self, channel_id: str) -> list[dict[str, Any]]:
        """Return all members of a channel (ChannelMember dicts), page by page."""
        members: list[dict[str, Any]] = []
        page = 0
        while True:
            batch = await self._call(
                "GET",
                "/channels/{id}/members",
                lambda: self._driver.channels.get_channel_members(
                    _segment(channel_id), page=page, per_page=MEMBERS_PAGE
                ),
            )
            batch = list(batch or [])
            members.extend(batch)
            if len(batch) < MEMBERS_PAGE:
                return members
            page += 1

    async def create_direct_channel(self, user_a: str, user_b: str) -> dict[str, Any]:
        """Return the direct-message channel of two users, creating it if needed."""
        return await self._call(
            "POST", "/channels/direct", lambda: self._driver.channels.create_direct_channel([user_a, user_b])
        )

    # posts

    async def create_post(
        self,
        channel_id: str,
        message: str,
        *,
        root_id: str = "",
        props: dict[str, Any] | None = None,
        pending_post_id: str | None = None,
        file_ids: Iterable[str] = (),
    ) -> Post:
        """Post a message; a client pending_post_id makes retries return the same post instead of a copy."""
        body: dict[str, Any] = {
            "channel_id": channel_id,
            "message": message,
            "root_id": root_id,
            "pending_post_id": pending_post_id or self._new_pending_post_id(),
        }
        if props:
            body["props"] = props
        if file_ids:
            body["file_ids"] = list(file_ids)
        data = await self._call("POST", "/posts", lambda: self._driver.client.post(f"{API}/posts", options=body))
        return Post.from_json(data)

    def _new_pending_post_id(self) -> str:
        # The webapp's shape is "<user id>:<ms>"; a random suffix keeps concurrent posts apart.
        return f"{self.user_id or 'bot'}:{int(time.time() * 1000)}:{uuid.uuid4().hex[:8]}"

    async def patch_post(
        self, post_id: str, *, message: str | None = None, props: dict[str, Any] | None = None
    ) -> Post:
        """Edit a post; `props`, when given, replaces the whole props map."""
        data = await self._call(
            "PUT",
            "/posts/{id}/patch",
            lambda: self._driver.posts.patch_post(_segment(post_id), message=message, props=props),
        )
        return Post.from_json(data)

    async def create_ephemeral_post(self, user_id: str, channel_id: str, message: str, *, root_id: str = "",
                                    props: dict[str, Any] | None = None) -> None:
        """Show a message to one user only (needs create_post_ephemeral: a system admin bot)."""
        post: dict[str, Any] = {"channel_id": channel_id, "message": message, "root_id": root_id}
        if props:
            post["props"] = props
        body = {"user_id": user_id, "post": post}
        await self._call("POST", "/posts/ephemeral",
                         lambda: self._driver.client.post(f"{API}/posts/ephemeral", options=body))

    async def show_privately(self, user_id: str, channel_id: str, message: str, *, bot_user_id: str,
                             root_id: str = "", props: dict[str, Any] | None = None) -> None:
        """Show a message to one user: an ephemeral post, or a direct message from the bot when the server
        refuses ephemeral posts (only system admins may make them)."""
        try:
            await self.create_ephemeral_post(user_id, channel_id, message, root_id=root_id, props=props)
            return
        except MattermostError as exc:
            if exc.status != 403:
                raise
            log.info("ephemeral posts are refused (%s); answering by direct message", exc.message or exc.status)
        channel = await self.create_direct_channel(bot_user_id, user_id)
        await self.create_post(channel["id"], message, props=props)

    async def pin_post(self, post_id: str) -> None:
        """Pin a post to its channel."""
        await self._call("POST", "/posts/{id}/pin", lambda: self._driver.posts.pin_post(_segment(post_id)))

    async def get_post(self, post_id: str) -> Post | None:
        """Return a post by id, or None."""
        data = await self.get_post_data(post_id)
        return Post.from_json(data) if data is not None else None

    async def get_post_data(self, post_id: str) -> dict[str, Any] | None:
        """A post as the server's JSON (with its metadata: reactions, files), or None."""
        data = await self._lookup("/posts/{id}", lambda: self._driver.posts.get_post(_segment(post_id)))
        return data if isinstance(data, dict) else None

    async def get_posts_since(self, channel_id: str, since_ms: int) -> list[Post]:
        """Return the channel's posts created, edited or deleted after `since_ms`, oldest first."""
        found: dict[str, Post] = {}
        since = since_ms
        while True:
            batch = await self._posts_updated_after(channel_id, since)
            for post in batch:
                found[post.id] = post
            if len(batch) < SINCE_LIMIT:
                break
            # Mattermost answers a full `since` page with the newest posts: page back to `since` for the others.
            await self._posts_created_since(channel_id, since_ms, found)
            # A full batch may hide more: ask again from the newest update seen (ties are kept by id).
            newest = max(p.update_at for p in batch) - 1
            if newest <= since:
                log.warning("more than %d posts share one update time in %s; some may be missing",
                            SINCE_LIMIT, channel_id)
                break
            since = newest
        return sorted(found.values(), key=lambda p: (p.create_at, p.id))

    async def posts_after(self, channel_id: str, after_id: str, per_page: int = 200) -> list[dict[str, Any]]:
        """Up to `per_page` posts created after `after_id`, oldest first, as the server's JSON (with metadata)."""
        data = await self._call(
            "GET", "/channels/{id}/posts",
            lambda: self._driver.posts.get_posts_for_channel(_segment(channel_id), after=after_id, per_page=per_page))
        if not isinstance(data, dict) or not isinstance(data.get("posts"), dict):
            return []
        order = data.get("order") if isinstance(data.get("order"), list) else []
        return [data["posts"][post_id] for post_id in reversed(order) if isinstance(data["posts"].get(post_id), dict)]

    async def _posts_created_since(self, channel_id: str, since_ms: int, found: dict[str, Post]) -> None:
        """Add the posts created after `since_ms` that `found` lacks, paging back from its oldest post."""
        before = min(found.values(), key=lambda p: (p.create_at, p.id)).id
        while True:
            data = await self._call(
                "GET", "/channels/{id}/posts",
                lambda: self._driver.posts.get_posts_for_channel(_segment(channel_id), before=before,
                                                                 per_page=PAGE_LIMIT))
            raw = data.get("posts") if isinstance(data, dict) and isinstance(data.get("posts"), dict) else {}
            order = data.get("order") if isinstance(data.get("order"), list) else []
            page = [Post.from_json(raw[post_id]) for post_id in order if isinstance(raw.get(post_id), dict)]
            newer = [post for post in page if post.create_at > since_ms]
            for post in newer:
                found.setdefault(post.id, post)
            if len(newer) < len(page) or len(page) < PAGE_LIMIT:
                return
            before = page[-1].id

    async def _posts_updated_after(self, channel_id: str, since: int) -> list[Post]:
        data = await self._call(
            "GET",
            "/channels/{id}/posts",
            lambda: self._driver.posts.get_posts_for_channel(_segment(channel_id), since=since),
        )
        if not isinstance(data, dict):
            return []
        raw_posts = data.get("posts")
        if not isinstance(raw_posts, dict):
            return []
        order = data.get("order") if isinstance(data.get("order"), list) else []
        posts = [Post.from_json(p) for p in raw_posts.values() if isinstance(p, dict)]
        # Thread context the server adds to `posts` may be older than `since`: keep what was asked for.
        return [p for p in posts if p.id and (p.id in order or p.update_at > since)]

    # reactions and files

    async def add_reaction(self, user_id: str, post_id: str, emoji: str) -> dict[str, Any]:
        """React to a post as `user_id` (the bot itself; the server refuses other users)."""
        reaction = {"user_id": user_id, "post_id": post_id, "emoji_name": emoji.strip(":")}
        return await self._call("POST", "/reactions", lambda: self._driver.reactions.save_reaction(reaction))

    async def upload_file(self, channel_id: str, filename: str, data: bytes) -> str:
        """Upload a file to a channel and return its file id, for create_post(file_ids=...)."""
        # Retrying is safe: a lost first upload only leaves an unattached file on the server.
        result = await self._call(
            "POST",
            "/files",
            lambda: self._driver.files.upload_file(files=(filename, data), channel_id=channel_id),
        )
        infos = result.get("file_infos") if isinstance(result, dict) else None
        if not infos or not isinstance(infos[0], dict) or not infos[0].get("id"):
            raise MattermostError(0, "", f"upload of {filename!r} returned no file info")
        return infos[0]["id"]
