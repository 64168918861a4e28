"""Chat commands for the people side of an incident: roles and severity."""
from __future__ import annotations

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.incidents.model import Severity
from bot.incidents.service import IncidentService
from bot.people.permissions import Permission
from bot.people.roles import RoleSet, UnknownRole, incident_roles
from bot.users import UserDirectory


class RoleCommands:
    def __init__(self, incidents: IncidentService, users: UserDirectory, roles: RoleSet, chat):
        self.incidents = incidents
        self.users = users
        self.roles = roles
        self.chat = chat
        self.specs = [
            CommandSpec("assign", "assign <role> @user",
                        f"Give a role ({', '.join(roles.names)}) to someone; they join the channel.", self.assign,
                        in_incident=True, permission=Permission.ROLES),
            CommandSpec("roles", "roles", "Who holds which role.", self.show, in_incident=True),
            CommandSpec("severity", "severity <sev1..sev4>", "Change the incident's severity.", self.severity,
                        in_incident=True, permission=Permission.SEVERITY, aliases=("sev",)),
        ]

    async def assign(self, ctx: CommandContext, args: str) -> list[Reply]:
        words = args.split()
        if len(words) != 2 or not words[1].startswith("@"):
            raise BadArguments("Name the role and the person, for example `assign scribe @bob`.")
        try:
            role = self.roles.find(words[0])
        except UnknownRole as unknown:
            return [Reply(f":warning: {unknown}")]
        user = await self.chat.get_user_by_username(words[1].lstrip("@").lower())
        if user is None:
            return [Reply(f"There is no user {words[1]}.")]
        _, handoff = await self.incidents.assign_role(ctx.incident, role.name, user["id"], actor_id=ctx.actor_id)
        was = f" (taking over from @{await self.users.username(handoff.previous)})" \
            if handoff.previous and handoff.previous != user["id"] else ""
        return [Reply(f":busts_in_silhouette: @{user['username']} is now {role.the} of {ctx.incident.key}{was}.",
                      in_thread=False)]

    async def show(self, ctx: CommandContext, args: str) -> list[Reply]:
        lines = [f"#### Roles in {ctx.incident.key}"]
        for role, user_id in incident_roles(ctx.incident, self.roles).assignments():
            holder = f"@{await self.users.username(user_id)}" if user_id else "*nobody yet*"
            lines.append(f"- **{role.title}**: {holder}")
        return [Reply("\n".join(lines))]

    async def severity(self, ctx: CommandContext, args: str) -> list[Reply]:
        severity = Severity.parse(args.strip()) if args.strip() else None
        if severity is None:
            raise BadArguments("Give the new severity: sev1, sev2, sev3 or sev4.")
        if severity is ctx.incident.severity:
            return [Reply(f"{ctx.incident.key} is already {severity.label}.")]
        changed = await self.incidents.change_severity(ctx.incident, severity, actor_id=ctx.actor_id)
        return [Reply(f":rotating_light: @{ctx.actor_username} changed {changed.key} to **{severity.label}**.",
                      in_thread=False)]
