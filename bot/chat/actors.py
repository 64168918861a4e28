"""What the permission policy needs to know about the person running a command, looked up as needed."""
from __future__ import annotations

from bot.chat.context import CommandContext
from bot.people.permissions import Actor, Kind, Permission, Policy
from bot.people.roles import RoleSet, incident_roles
from bot.users import UserDirectory


class ActorLookup:
    def __init__(self, membership, users: UserDirectory, *, team_id: str, policy: Policy, roles: RoleSet):
        self.membership = membership      # MattermostRest: is_team_member, get_user_groups
        self.users = users
        self.team_id = team_id
        self.policy = policy
        self.roles = roles

    async def actor(self, ctx: CommandContext, permission: Permission, policy: Policy | None = None) -> Actor:
        """The facts the policy's entries for this permission ask about (others are left at their defaults)."""
        kinds = {entry.kind for entry in (policy or self.policy).entries(permission)}
        incident = ctx.incident
        team_member = not ctx.is_direct
        if ctx.is_direct and Kind.TEAM in kinds:
            team_member = await self.membership.is_team_member(self.team_id, ctx.actor_id)
        in_incident_channel = incident is not None and ctx.channel_id == incident.channel_id
        groups: frozenset[str] = frozenset()
        if Kind.GROUP in kinds:
            groups = frozenset(group["name"] for group in await self.membership.get_user_groups(ctx.actor_id)
                               if isinstance(group.get("name"), str))
        return Actor(
            user_id=ctx.actor_id, username=ctx.actor_username, team_member=team_member,
            channel_member=in_incident_channel or (incident is None and not ctx.is_direct),
            groups=groups,
            roles=incident_roles(incident, self.roles).roles_of(ctx.actor_id) if incident else frozenset(),
            system_admin=await self.users.is_admin(ctx.actor_id))
