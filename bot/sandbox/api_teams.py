"""REST routes: teams and team members."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_body_param, permission_denied
from .http_util import caller, json_object, json_response, paging, path_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

TID = "{team_id:[A-Za-z0-9]+}"


def team_not_found() -> AppError:
    """Return the 404 for an unknown team id."""
    return AppError(404, "app.team.get.find.app_error", "Unable to find the existing team.")


class TeamRoutes:
    """Teams: create, lookups, members."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_post(api + "/teams", self.create)
        router.add_get(api + "/teams", self.list_teams)
        router.add_get(api + "/teams/name/{team_name:[A-Za-z0-9_\\-]+}", self.by_name)
        router.add_get(api + f"/teams/{TID}", self.get)
        router.add_post(api + f"/teams/{TID}/members", self.add_member)
        router.add_get(api + f"/teams/{TID}/members", self.members)
        router.add_get(api + f"/teams/{TID}/members/{{user_id:[A-Za-z0-9]+}}", self.member)
        router.add_get(api + "/users/{user_id:[A-Za-z0-9]+}/teams", self.teams_for_user)

    def team(self, request: web.Request) -> dict:
        """Return the team named by the URL, or raise 404."""
        team = self.state.teams.get(path_id(request, "team_id"))
        if team is None:
            raise team_not_found()
        return team

    def visible(self, user: dict, team: dict) -> bool:
        """Tell whether the user may see the team (members, admins, open teams)."""
        return (self.state.is_admin(user) or self.state.is_team_member(team["id"], user["id"])
                or team["allow_open_invite"])

    async def create(self, request: web.Request) -> web.Response:
        """Create a team; the caller becomes its admin."""
        user = caller(request)
        body = await json_object(request, "team")
        for key in ("name", "display_name"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise invalid_body_param(f"team.{key}")
        team = self.core.accounts.create_team(body["name"], body["display_name"], str(body.get("type") or "O"),
                                              creator_id=user["id"], description=str(body.get("description") or ""))
        return json_response(team, 201)

    async def list_teams(self, request: web.Request) -> web.Response:
        """List the teams the caller can see."""
        user = caller(request)
        teams = [t for t in self.state.teams.values() if not t["delete_at"] and self.visible(user, t)]
        page, per_page = paging(request)
        return json_response(teams[page * per_page:(page + 1) * per_page])

    async def get(self, request: web.Request) -> web.Response:
        """Return a team by id."""
        user = caller(request)
        team = self.team(request)
        if not self.visible(user, team):
            raise permission_denied()
        return json_response(team)

    async def by_name(self, request: web.Request) -> web.Response:
        """Return a team by name."""
        user = caller(request)
        team = self.state.team_by_name(request.match_info["team_name"])
        if team is None:
            raise AppError(404, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.")
        if not self.visible(user, team):
            raise permission_denied()
        return json_response(team)

    async def add_member(self, request: web.Request) -> web.Response:
        """Add a user to the team (admins, team members, or oneself to an open team): 201 TeamMember."""
        actor = caller(request)
        team = self.team(request)
        body = await json_object(request, "member")
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or user_id not in self.state.users:
            raise invalid_body_param("user_id")
        allowed = (self.state.is_admin(actor) or self.state.is_team_member(team["id"], actor["id"])
                   or (user_id == actor["id"] and team["allow_open_invite"]))
        if not allowed:
            raise permission_denied()
        member, _ = self.core.accounts.add_team_member(team["id"], user_id)
        return json_response(member, 201)

    async def members(self, request: web.Request) -> web.Response:
        """List the team's members."""
        user = caller(request)
        team = self.team(request)
        if not self.visible(user, team):
            raise permission_denied()
        page, per_page = paging(request)
        members = list(self.state.team_members.get(team["id"], {}).values())
        return json_response(members[page * per_page:(page + 1) * per_page])

    async def member(self, request: web.Request) -> web.Response:
        """Return one team member."""
        user = caller(request)
        team = self.team(request)
        if not self.visible(user, team):
            raise permission_denied()
        member = self.state.team_members.get(team["id"], {}).get(path_id(request, "user_id", allow_me=True))
        if member is None:
            raise AppError(404, "app.team.get_member.missing.app_error",
                           "No team member found for that user ID and team ID.")
        return json_response(member)

    async def teams_for_user(self, request: web.Request) -> web.Response:
        """List the teams a user belongs to (oneself, or any user for admins)."""
        actor = caller(request)
        user_id = path_id(request, "user_id", allow_me=True)
        if user_id != actor["id"] and not self.state.is_admin(actor):
            raise permission_denied()
        return json_response([t for t in self.state.teams.values() if self.state.is_team_member(t["id"], user_id)])
