"""REST routes: custom user groups (api4/group.go), in the server's order of checks."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_body_param, permission_denied
from .groups import ldap_groups_license_error
from .http_util import caller, json_body, json_response, paging, path_id, query_bool
from .ids import is_valid_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

GID = "{group_id:[A-Za-z0-9]+}"
UID = "{user_id:[A-Za-z0-9]+}"


class GroupRoutes:
    """Create, read and fill custom groups; a user's groups."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state
        self.groups = core.groups

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_get(api + "/groups", self.list_groups)
        router.add_post(api + "/groups", self.create)
        router.add_get(api + f"/groups/{GID}", self.get)
        router.add_get(api + f"/groups/{GID}/members", self.members)
        router.add_post(api + f"/groups/{GID}/members", self.add_members)
        router.add_get(api + f"/users/{UID}/groups", self.of_user)

    async def create(self, request: web.Request) -> web.Response:
        """Create a custom group from a flat GroupWithUserIds body: 201 with the group and its member_count."""
        caller(request)
        self.groups.require_license()
        body = await json_body(request, "group")
        if not isinstance(body, dict):
            raise invalid_body_param("group")
        if body.get("source") != "custom":
            raise AppError(400, "app.group.crud_permission", "Unable to perform operation for that source type.")
        self.groups.require_custom_groups()
        # create_custom_group belongs to system_user, so every sandbox user (bots included) holds it
        if body.get("allow_reference") is not True:
            raise AppError(400, "api.custom_groups.must_be_referenceable",
                           "Custom groups must be referenceable.")
        if body.get("remote_id"):
            raise AppError(400, "api.custom_groups.no_remote_id", "Custom groups cannot have a remote id.")
        user_ids = body.get("user_ids") or []
        name, display_name = body.get("name"), body.get("display_name")
        description = body.get("description") or ""
        if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids) \
                or not isinstance(name, (str, type(None))) or not isinstance(display_name, (str, type(None))) \
                or not isinstance(description, str):
            raise invalid_body_param("group")
        if name is None:
            raise AppError(400, "model.group.name.app_error", "Invalid name property for group.")
        group = self.groups.create(name, display_name or "", user_ids, description=description)
        return json_response(group, 201)

    async def list_groups(self, request: web.Request) -> web.Response:
        """List groups (GetGroups): q, filter_has_member, include_member_count, paging, include_total_count."""
        caller(request)
        self.groups.require_license()
        source = request.query.get("group_source", "")
        if source == "custom":
            self.groups.require_custom_groups()
        elif source == "ldap" and not self.core.settings.ldap_groups_feature:
            raise ldap_groups_license_error()
        include_count = query_bool(request, "include_member_count")
        custom_listed = self.core.settings.enable_custom_groups and source in ("", "custom")
        found = [] if not custom_listed else self.groups.search(
            q=request.query.get("q", ""), has_member=request.query.get("filter_has_member", ""),
            include_archived=query_bool(request, "include_archived"),
            filter_archived=query_bool(request, "filter_archived"))
        page, per_page = paging(request)
        groups = [self.groups.for_client(g, include_count) for g in found[page * per_page:(page + 1) * per_page]]
        if query_bool(request, "include_total_count"):
            return json_response({"groups": groups, "total_count": len(self.state.groups)})
        return json_response(groups)

    async def get(self, request: web.Request) -> web.Response:
        """Return one group, with member_count when include_member_count=true."""
        caller(request)
        self.groups.require_license()
        group_id = path_id(request, "group_id")
        group = self.groups.get(group_id, include_member_count=query_bool(request, "include_member_count"))
        self.groups.require_custom_groups()
        return json_response(group)

    async def members(self, request: web.Request) -> web.Response:
        """Return {"members": [User...], "total_member_count": N}, members ordered by username."""
        caller(request)
        self.groups.require_license()
        group_id = path_id(request, "group_id")
        self.groups.get(group_id)
        self.groups.require_custom_groups()
        users = self.groups.members(group_id)
        page, per_page = paging(request)
        return json_response({"members": users[page * per_page:(page + 1) * per_page],
                              "total_member_count": len(users)})

    async def add_members(self, request: web.Request) -> web.Response:
        """Add members to a custom group; answer the GroupMember records."""
        caller(request)
        self.groups.require_license()
        group_id = path_id(request, "group_id")
        self.groups.get(group_id)
        self.groups.require_custom_groups()
        # manage_custom_group_members belongs to system_user: every sandbox user holds it
        body = await json_body(request, "addGroupMembers")
        user_ids = body.get("user_ids") if isinstance(body, dict) else None
        if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
            raise invalid_body_param("addGroupMembers")
        for user_id in user_ids:
            if not is_valid_id(user_id):
                raise invalid_body_param("user_id")
        return json_response(self.groups.add_members(group_id, user_ids))

    async def of_user(self, request: web.Request) -> web.Response:
        """Return a user's groups: the user themself, or manage_system; then the Enterprise LDAPGroups feature."""
        actor = caller(request)
        self.groups.require_license()
        user_id = path_id(request, "user_id", allow_me=True)
        if actor["id"] != user_id and not self.state.is_admin(actor):
            raise permission_denied()
        if not self.core.settings.ldap_groups_feature:
            raise ldap_groups_license_error()
        groups = self.groups.of_user(user_id) if self.core.settings.enable_custom_groups else []
        return json_response([self.groups.for_client(g) for g in groups])

