"""Who may do what: a policy read from config, and `check`, which decides and says why in a postable sentence.

System admins are always allowed, whatever the policy says: they can change the bot's config anyway, and an
incident must never get stuck because nobody left is permitted to resolve it.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from bot.people.roles import DEFAULT_ROLES, RoleSet
from bot.problems import ConfigError, Problem, did_you_mean, dotted, kind_of
from bot.yamlsource import YamlDocument


class Permission(enum.Enum):
    """Something a person may be allowed to do. To add one: a member here and its phrase in `_DOING`."""

    START = "start"
    ACK = "ack"
    UPDATE = "update"
    RESOLVE = "resolve"
    SEVERITY = "severity"
    ROLES = "roles"
    RUN = "run"              # custom commands (their own `allowed` list overrides this rule)

    def doing(self, incident: str = "") -> str:
        """What the permission lets one do, for a sentence: 'resolve INC-4', 'start incidents'."""
        return _DOING[self].format(incident=incident or "an incident")


_DOING = {
    Permission.START: "start incidents",
    Permission.ACK: "acknowledge {incident}",
    Permission.UPDATE: "post updates to {incident}",
    Permission.RESOLVE: "resolve {incident}",
    Permission.SEVERITY: "change the severity of {incident}",
    Permission.ROLES: "assign roles in {incident}",
    Permission.RUN: "run this command",
}


class Kind(enum.Enum):
    """The kinds of entry in a permission list."""

    ANYONE = "anyone"                    # every user who can reach the bot
    TEAM = "team"                        # members of the bot's team
    CHANNEL_MEMBERS = "channel-members"  # members of the incident channel (for `start`: the channel it is said in)
    ADMINS = "admins"                    # system admins only (they are always allowed; this alone means "nobody else")
    ROLE = "role"                        # whoever holds this incident role
    USER = "user"                        # one user, by username
    GROUP = "group"                      # members of a Mattermost user group, by its name


KEYWORDS = {kind.value: kind for kind in (Kind.ANYONE, Kind.TEAM, Kind.CHANNEL_MEMBERS, Kind.ADMINS)}
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{0,63}")
_GROUP = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Entry:
    """One entry of a permission list: a keyword kind, or a role, user or group with its name."""

    kind: Kind
    name: str = ""

    def __str__(self) -> str:
        """The entry as written in config."""
        return {Kind.ROLE: self.name, Kind.USER: f"@{self.name}", Kind.GROUP: f"group:{self.name}"}.get(
            self.kind, self.kind.value)


@dataclass(frozen=True)
class Rule:
    """Who may do one thing: any of the entries."""

    permission: Permission
    entries: tuple[Entry, ...]


EVERYONE_IN_THE_TEAM = (Entry(Kind.TEAM),)


@dataclass(frozen=True)
class Policy:
    """Who may do what. A permission without a rule falls back to `fallback`: anyone in the team."""

    rules: tuple[Rule, ...] = ()
    roles: RoleSet = DEFAULT_ROLES       # for naming roles in refusals: 'the incident commander'
    fallback: tuple[Entry, ...] = EVERYONE_IN_THE_TEAM

    def entries(self, permission: Permission) -> tuple[Entry, ...]:
        return next((rule.entries for rule in self.rules if rule.permission is permission), self.fallback)


DEFAULT_POLICY = Policy()   # no `permissions` section: anyone in the team may do anything, as before


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lstrip("@").lower() for v in values)


@dataclass(frozen=True)
class Actor:
    """What is known about the person asking, fetched by the caller before `check`."""

    user_id: str
    username: str
    team_member: bool = False                 # member of the bot's team
    channel_member: bool = False              # member of the incident channel (for `start`: of the channel used)
    groups: frozenset[str] = frozenset()      # names (not display names) of their Mattermost user groups
    roles: frozenset[str] = frozenset()       # names of the roles they hold in this incident (RoleBook.roles_of)
    system_admin: bool = False                # has the system_admin role: always allowed

    def __post_init__(self) -> None:
        object.__setattr__(self, "username", self.username.strip().lstrip("@").lower())
        object.__setattr__(self, "groups", _names(self.groups))
        object.__setattr__(self, "roles", frozenset(self.roles))


@dataclass(frozen=True)
class Decision:
    """Allowed or not, and a sentence saying why that the bot can post as is."""

    allowed: bool
    reason: str


def check(policy: Policy, action: Permission, actor: Actor, *, incident: str = "") -> Decision:
    """Decide whether `actor` may do `action` (in the incident named `incident`, like 'INC-4')."""
    doing = action.doing(incident)
    if actor.system_admin:
        return Decision(True, f"You may {doing} as a system admin.")
    entries = policy.entries(action)
    for entry in entries:
        if _holds(entry, actor):
            if entry.kind is Kind.ANYONE:
                return Decision(True, f"Anyone may {doing}.")
            return Decision(True, f"You may {doing} as {_as(entry, policy, action)}.")
    if not entries:
        return Decision(False, f"Only system admins may {doing}; you are not a system admin.")
    who = [_who(entry, policy, action) for entry in entries]
    listed = ", ".join(who[:-1]) + f" or {who[-1]}" if len(who) > 1 else who[0]
    why = "you are none of these" if len(who) > 1 else f"you are not {_as(entries[0], policy, action)}"
    return Decision(False, f"Only {listed} may {doing}; {why}.")


def _holds(entry: Entry, actor: Actor) -> bool:
    return {
        Kind.ANYONE: True,
        Kind.TEAM: actor.team_member,
        Kind.CHANNEL_MEMBERS: actor.channel_member,
        Kind.ADMINS: actor.system_admin,
        Kind.ROLE: entry.name in actor.roles,
        Kind.USER: entry.name == actor.username,
        Kind.GROUP: entry.name in actor.groups,
    }[entry.kind]


def _channel(action: Permission) -> str:
    return "this channel" if action is Permission.START else "the incident channel"


def _role_the(entry: Entry, policy: Policy) -> str:
    role = policy.roles.get(entry.name)
    return role.the if role else f"the {entry.name}"


def _who(entry: Entry, policy: Policy, action: Permission) -> str:
    """The people an entry allows, as a sentence names them: 'members of sre'."""
    return {
        Kind.ANYONE: "anyone",
        Kind.TEAM: "members of the team",
        Kind.CHANNEL_MEMBERS: f"members of {_channel(action)}",
        Kind.ADMINS: "system admins",
        Kind.ROLE: _role_the(entry, policy),
        Kind.USER: f"@{entry.name}",
        Kind.GROUP: f"members of {entry.name}",
    }[entry.kind]


def _as(entry: Entry, policy: Policy, action: Permission) -> str:
    """One person the entry allows: 'a member of sre', 'the commander'."""
    return {
        Kind.ANYONE: "anyone",
        Kind.TEAM: "a member of the team",
        Kind.CHANNEL_MEMBERS: f"a member of {_channel(action)}",
        Kind.ADMINS: "a system admin",
        Kind.ROLE: _role_the(entry, policy),
        Kind.USER: f"@{entry.name}",
        Kind.GROUP: f"a member of {entry.name}",
    }[entry.kind]


# --- the `permissions` config section ---

def permissions_from_document(doc: YamlDocument, path_prefix: tuple = ("permissions",),
                              roles: RoleSet = DEFAULT_ROLES) -> Policy:
    """Validate the permissions at `path_prefix` (absent: the default policy); raise ConfigError listing every
    problem. Role entries must name one of `roles`."""
    policy, problems = read_permissions(doc, path_prefix, roles)
    if problems:
        raise ConfigError(problems)
    return policy


def read_permissions(doc: YamlDocument, path_prefix: tuple = ("permissions",),
                     roles: RoleSet = DEFAULT_ROLES) -> tuple[Policy, list[Problem]]:
    """The policy at `path_prefix` and the problems found (with problems, the policy is not to be used)."""
    data: Any = doc.data
    for part in path_prefix:
        if not isinstance(data, dict) or part not in data:
            return Policy(roles=roles), []
        data = data[part]
    reader = _PolicyReader(doc, roles)
    rules = reader.rules(tuple(path_prefix), {} if data is None else data)
    return Policy(rules, roles), reader.problems


def read_entries(doc: YamlDocument, path: tuple, value: Any,
                 roles: RoleSet = DEFAULT_ROLES) -> tuple[tuple[Entry, ...], list[Problem]]:
    """One list of who may do something (like a custom command's `allowed`) and the problems found."""
    reader = _PolicyReader(doc, roles)
    entries = reader.entries(path, value)
    return entries, reader.problems


@dataclass
class _PolicyReader:
    doc: YamlDocument
    roles: RoleSet
    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.doc.where(path), dotted(path), message))

    def rules(self, path: tuple, data: Any) -> tuple[Rule, ...]:
        if not isinstance(data, dict):
            self.problem(path, f"must be a mapping of action to who may do it, not {kind_of(data)}")
            return ()
        actions = [p.value for p in Permission]
        rules = []
        for key, value in data.items():
            permission = next((p for p in Permission if p.value == str(key).strip().lower()), None)
            if permission is None:
                self.problem(path + (key,), f"unknown action {key!r}" + did_you_mean(key, actions)
                             + f"; the actions are {', '.join(actions)}")
                continue
            entries = self.entries(path + (key,), value)
            if entries:
                rules.append(Rule(permission, entries))
        return tuple(rules)

    def entries(self, path: tuple, value: Any) -> tuple[Entry, ...]:
        if isinstance(value, str):
            items = [(path, value)]
        elif isinstance(value, list):
            items = [(path + (index,), item) for index, item in enumerate(value)]
        else:
            self.problem(path, f"must be one entry or a list of them ({self._choices()}), not {kind_of(value)}")
            return ()
        if not items:
            self.problem(path, "must not be empty (to allow only system admins, write admins)")
            return ()
        entries: list[Entry] = []
        for where, raw in items:
            entry = self.entry(where, raw)
            if entry is None:
                continue
            if entry in entries:
                self.problem(where, f"{str(entry)!r} is listed twice")
                continue
            entries.append(entry)
        if Entry(Kind.ANYONE) in entries and len(entries) > 1:
            self.problem(path, "anyone already allows everybody, so the other entries do nothing; remove them")
        return tuple(entries)

    def entry(self, path: tuple, raw: Any) -> Entry | None:
        if not isinstance(raw, str):
            self.problem(path, f"must be text ({self._choices()}), not {kind_of(raw)}")
            return None
        text = raw.strip()
        lowered = text.lower()
        if lowered in KEYWORDS:
            return Entry(KEYWORDS[lowered])
        for prefix, kind, pattern, what in (("@", Kind.USER, _USERNAME, "username"),
                                            ("user:", Kind.USER, _USERNAME, "username"),
                                            ("group:", Kind.GROUP, _GROUP, "group name")):
            if lowered.startswith(prefix):
                name = lowered[len(prefix):].strip().lstrip("@")
                if not pattern.fullmatch(name):
                    self.problem(path, f"{text!r} names no {what}" if not name
                                 else f"{text!r}: {name!r} is not a Mattermost {what}")
                    return None
                return Entry(kind, name)
        if self.roles.get(lowered):
            return Entry(Kind.ROLE, lowered)
        self.problem(path, f"{text!r} is not a role or a keyword" + did_you_mean(text, self._words())
                     + f"; use {self._choices()}")
        return None

    def _words(self) -> list[str]:
        return [*KEYWORDS, *self.roles.names]

    def _choices(self) -> str:
        return (f"{', '.join(KEYWORDS)}, a role ({', '.join(self.roles.names)}), "
                '"@username" or "group:name"')
