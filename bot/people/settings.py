"""The `roles` and `permissions` config sections, read together so role entries are checked against the roles."""
from __future__ import annotations

from dataclasses import dataclass

from bot.people.permissions import DEFAULT_POLICY, Policy, read_permissions
from bot.people.roles import DEFAULT_ROLES, RoleSet, read_roles
from bot.problems import ConfigError
from bot.yamlsource import YamlDocument


@dataclass(frozen=True)
class PeopleConfig:
    roles: RoleSet = DEFAULT_ROLES
    permissions: Policy = DEFAULT_POLICY


def people_from_document(doc: YamlDocument, roles_path: tuple = ("roles",),
                         permissions_path: tuple = ("permissions",)) -> PeopleConfig:
    """Validate both sections (either may be absent); raise ConfigError listing every problem, by line."""
    roles, problems = read_roles(doc, roles_path)
    policy, more = read_permissions(doc, permissions_path, roles)
    problems += more
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.location.line, p.location.column)))
    return PeopleConfig(roles, policy)
