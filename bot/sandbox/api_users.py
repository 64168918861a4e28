"""REST routes: users, login, personal access tokens."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_body_param, invalid_url_param, permission_denied
from .http_util import OK, TOKEN_KEY, USER_KEY, caller, json_body, json_object, json_response, paging, path_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

UID = "{user_id:[A-Za-z0-9]+}"


def user_not_found() -> AppError:
    """Return the 404 for an unknown user id."""
    return AppError(404, "app.user.missing_account.const", "Unable to find the user.")


def _looks_like_email(email: str) -> bool:
    """A rough model.IsValidEmail: one address with a local part and a domain, no spaces or brackets."""
    local, at, domain = email.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() or c in "<>\"," for c in email)


class UserRoutes:
    """Users: create, login/logout, lookups, lists and tokens."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_post(api + "/users", self.create)
        router.add_get(api + "/users", self.list_users)
        router.add_post(api + "/users/login", self.login)
        router.add_post(api + "/users/logout", self.logout)
        router.add_post(api + "/users/usernames", self.by_usernames)
        router.add_post(api + "/users/ids", self.by_ids)
        router.add_get(api + "/users/username/{username:[A-Za-z0-9.\\-_]+}", self.by_username)
        router.add_get(api + "/users/email/{email:.+}", self.by_email)
        router.add_get(api + f"/users/{UID}", self.get)
        router.add_post(api + f"/users/{UID}/tokens", self.create_token)

    async def create(self, request: web.Request) -> web.Response:
        """Create a user (system admins; the sandbox has no open sign-up)."""
        user = request.get(USER_KEY)
        if not self.state.is_admin(user):
            raise AppError(403, "api.user.create_user.no_open_server",
                           "This server does not allow open signups.  Please speak with your Administrator "
                           "to receive an invitation.")
        body = await json_object(request, "user")
        created = self.core.accounts.create_user(
            str(body.get("username") or ""), str(body.get("email") or ""), str(body.get("password") or ""),
            first_name=str(body.get("first_name") or ""), last_name=str(body.get("last_name") or ""))
        for key in ("nickname", "position"):
            if isinstance(body.get(key), str):
                created[key] = body[key]
        return json_response(created, 201)

    async def login(self, request: web.Request) -> web.Response:
        """Log in with login_id/password: 200, the session token in the Token header."""
        body = await json_object(request, "login_id")
        login_id = body.get("login_id") or body.get("username") or body.get("email") or ""
        user, token = self.core.accounts.login(str(login_id), str(body.get("password") or ""))
        response = json_response(user)
        response.headers["Token"] = token
        return response

    async def logout(self, request: web.Request) -> web.Response:
        """Revoke the caller's token."""
        self.state.tokens.pop(request.get(TOKEN_KEY, ""), None)
        return json_response(OK)

    async def get(self, request: web.Request) -> web.Response:
        """Return a user by id (or "me")."""
        caller(request)
        user = self.state.users.get(path_id(request, "user_id", allow_me=True))
        if user is None:
            raise user_not_found()
        return json_response(user)

    async def by_username(self, request: web.Request) -> web.Response:
        """Return a user by username."""
        caller(request)
        user = self.state.user_by_username(request.match_info["username"])
        if user is None:
            raise AppError(404, "app.user.get_by_username.app_error", "Unable to find an existing account "
                           "matching your username for this team. This team may require an invite from the "
                           "team owner to join.")
        return json_response(user)

    async def by_email(self, request: web.Request) -> web.Response:
        """Return a user by e-mail address (compared in lower case, as the server's SanitizeEmail does).

        The real server answers 403 api.user.get_user_by_email.permissions.app_error to non-admins when
        PrivacySettings.ShowEmailAddress is off; its default is on, which is what the sandbox serves.
        """
        caller(request)
        email = request.match_info["email"].lower()
        if not _looks_like_email(email):
            raise invalid_url_param("email")
        user = self.state.user_by_email(email)
        if user is None:
            raise user_not_found()  # GetUserByEmail answers MissingAccountError with 404
        return json_response(user)

    async def by_usernames(self, request: web.Request) -> web.Response:
        """Return the users with the given usernames (unknown ones are skipped)."""
        caller(request)
        names = await json_body(request, "usernames")
        if not isinstance(names, list):
            raise invalid_body_param("usernames")
        found = (self.state.user_by_username(n) for n in names if isinstance(n, str))
        return json_response([u for u in found if u])

    async def by_ids(self, request: web.Request) -> web.Response:
        """Return the users with the given ids (unknown ones are skipped)."""
        caller(request)
        ids = await json_body(request, "user_ids")
        if not isinstance(ids, list):
            raise invalid_body_param("user_ids")
        return json_response([self.state.users[i] for i in ids if isinstance(i, str) and i in self.state.users])

    async def list_users(self, request: web.Request) -> web.Response:
        """List users, optionally in_team / in_channel, paged."""
        caller(request)
        users = sorted(self.state.users.values(), key=lambda u: u["username"])
        if request.query.get("in_team"):
            users = [u for u in users if self.state.is_team_member(request.query["in_team"], u["id"])]
        if request.query.get("in_channel"):
            users = [u for u in users if self.state.is_member(request.query["in_channel"], u["id"])]
        page, per_page = paging(request)
        return json_response(users[page * per_page:(page + 1) * per_page])

    async def create_token(self, request: web.Request) -> web.Response:
        """Create a personal access token (system admins, for any user or bot)."""
        actor = caller(request)
        user_id = path_id(request, "user_id", allow_me=True)
        if not self.core.settings.enable_user_access_tokens:
            raise AppError(501, "api.user.create_user_access_token.disabled.app_error",
                           "Personal access tokens are disabled on this server.")
        if not self.state.is_admin(actor):
            raise permission_denied()
        body = await json_object(request, "token")
        description = body.get("description")
        if not isinstance(description, str) or not description:
            raise invalid_body_param("description")
        if user_id not in self.state.users:
            raise user_not_found()
        return json_response(self.core.accounts.create_access_token(user_id, description))
