"""Incident roles (commander, scribe, comms...): which roles exist, and who holds each one in an incident."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

from bot.problems import ConfigError, Problem, did_you_mean, dotted, kind_of
from bot.yamlsource import YamlDocument

COMMANDER = "commander"
ROLE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# Words that mean something else in a `permissions` list, so they cannot name a role.
RESERVED_NAMES = ("anyone", "team", "channel-members", "admins")
ROLE_KEYS = ("name", "title")


@dataclass(frozen=True)
class Role:
    """A role people take in an incident: `name` is what commands and config use, `title` what people read."""

    name: str
    title: str

    @property
    def the(self) -> str:
        """How a sentence names the role's holder: 'the commander', 'the SRE lead'."""
        title = self.title
        if len(title) > 1 and title[1].isupper():   # an acronym: keep it as written
            return f"the {title}"
        return f"the {title[:1].lower()}{title[1:]}"


class UnknownRole(ValueError):
    """A word that names no configured role; the message says which roles exist (postable as is)."""

    def __init__(self, word: str, roles: "RoleSet"):
        names = list(roles.names)
        listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
        super().__init__(f"There is no role {word!r}{did_you_mean(word, names)}; the roles are {listed}.")
        self.word = word


@dataclass(frozen=True)
class RoleSet:
    """The roles incidents have, in the order they are listed; `commander` is always one of them."""

    roles: tuple[Role, ...]

    def __post_init__(self) -> None:
        names = [role.name for role in self.roles]
        if COMMANDER not in names:
            raise ValueError("the roles must include the commander")
        if len(set(names)) != len(names):
            raise ValueError("each role name must be used once")

    def __iter__(self) -> Iterator[Role]:
        return iter(self.roles)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(role.name for role in self.roles)

    def get(self, name: str) -> Role | None:
        """The role with exactly this name, or None."""
        return next((role for role in self.roles if role.name == name), None)

    def find(self, word: str) -> Role:
        """The role a person means: its name or title, any case; raise UnknownRole otherwise."""
        wanted = word.strip().lower()
        for role in self.roles:
            if wanted in (role.name, role.title.lower()):
                return role
        raise UnknownRole(word.strip(), self)


DEFAULT_ROLES = RoleSet((Role(COMMANDER, "Commander"), Role("scribe", "Scribe"), Role("comms", "Communications lead")))


@dataclass(frozen=True)
class Handoff:
    """A role changing hands. `previous` or `new` is None when the role was or becomes vacant."""

    role: Role
    previous: str | None
    new: str | None

    @property
    def changed(self) -> bool:
        return self.previous != self.new


@dataclass(frozen=True)
class RoleBook:
    """Who holds which role in one incident.

    `holders` pairs role names with user ids. Pairs for roles no longer configured (read back from storage
    after the config changed) are kept, so saving the book again loses nothing, but they cannot be looked up.
    """

    roles: RoleSet = DEFAULT_ROLES
    holders: tuple[tuple[str, str], ...] = ()

    @classmethod
    def empty(cls, roles: RoleSet = DEFAULT_ROLES) -> "RoleBook":
        return cls(roles)

    def holder(self, role: str) -> str | None:
        """The user id holding `role` (a name or title), or None when vacant; raise UnknownRole."""
        name = self.roles.find(role).name
        return dict(self.holders).get(name)

    def assign(self, role: str, user_id: str) -> tuple["RoleBook", Handoff]:
        """Give `role` to `user_id`; return the new book and the hand-off to record."""
        if not user_id:
            raise ValueError("a role is assigned to a user id; use release() to leave it vacant")
        return self._set(self.roles.find(role), user_id)

    def release(self, role: str) -> tuple["RoleBook", Handoff]:
        """Leave `role` vacant; return the new book and the hand-off to record."""
        return self._set(self.roles.find(role), None)

    def roles_of(self, user_id: str) -> frozenset[str]:
        """The names of the configured roles `user_id` holds (for an Actor)."""
        return frozenset(name for name, holder in self.holders if holder == user_id and self.roles.get(name))

    def assignments(self) -> tuple[tuple[Role, str | None], ...]:
        """Every configured role with its holder (None when vacant), in the configured order."""
        held = dict(self.holders)
        return tuple((role, held.get(role.name)) for role in self.roles)

    def as_json(self) -> str:
        """The holders as a JSON object, role name -> user id, for storage."""
        return json.dumps(dict(self.holders), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, roles: RoleSet = DEFAULT_ROLES) -> "RoleBook":
        """Read what `as_json` wrote ("" is an empty book); raise ValueError when it is not such an object."""
        if not text.strip():
            return cls(roles)
        data = json.loads(text)
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                 for k, v in data.items()):
            raise ValueError("a role book is a JSON object of role name to user id")
        return cls(roles, _ordered(roles, data))

    def _set(self, role: Role, user_id: str | None) -> tuple["RoleBook", Handoff]:
        held = dict(self.holders)
        previous = held.pop(role.name, None)
        if user_id is not None:
            held[role.name] = user_id
        return RoleBook(self.roles, _ordered(self.roles, held)), Handoff(role, previous, user_id)


def _ordered(roles: RoleSet, held: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Configured roles first, in their order; then any others, by name."""
    rank = {name: index for index, name in enumerate(roles.names)}
    return tuple(sorted(held.items(), key=lambda pair: (rank.get(pair[0], len(rank)), pair[0])))


# --- the `roles` config section ---

def roles_from_document(doc: YamlDocument, path_prefix: tuple = ("roles",)) -> RoleSet:
    """Validate the list of roles at `path_prefix` (absent: the defaults); raise ConfigError listing every problem."""
    roles, problems = read_roles(doc, path_prefix)
    if problems:
        raise ConfigError(problems)
    return roles


def read_roles(doc: YamlDocument, path_prefix: tuple = ("roles",)) -> tuple[RoleSet, list[Problem]]:
    """The roles at `path_prefix` and the problems found; with problems, the roles that were readable."""
    data: Any = doc.data
    for part in path_prefix:
        if not isinstance(data, dict) or part not in data:
            return DEFAULT_ROLES, []
        data = data[part]
    if data is None:
        return DEFAULT_ROLES, []
    problems: list[Problem] = []

    def problem(path: tuple, message: str) -> None:
        problems.append(Problem(doc.where(path), dotted(path), message))

    prefix = tuple(path_prefix)
    if not isinstance(data, list):
        problem(prefix, f"must be a list of roles, each with a name and a title, not {kind_of(data)}")
        return DEFAULT_ROLES, problems
    found: list[Role] = []
    for index, item in enumerate(data):
        role = _role(prefix + (index,), item, problem)
        if role is None:
            continue
        if any(role.name == seen.name for seen in found):
            problem(prefix + (index,), f"the role {role.name!r} is listed twice")
            continue
        found.append(role)
    if not any(role.name == COMMANDER for role in found):
        problem(prefix, "must include the commander role (name: commander); only its title can change")
        found.insert(0, DEFAULT_ROLES.roles[0])
    return RoleSet(tuple(found)), problems


def _role(path: tuple, item: Any, problem) -> Role | None:
    """One entry: a mapping with name and title, or just a name."""
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        problem(path, f"must be a mapping with name and title, not {kind_of(item)}")
        return None
    for key in item:
        if key not in ROLE_KEYS:
            problem(path + (key,), "unknown key" + did_you_mean(key, ROLE_KEYS))
    name = item.get("name")
    if "name" not in item:
        problem(path, "name is required")
        return None
    if not isinstance(name, str) or not ROLE_NAME.fullmatch(name):
        problem(path + ("name",), f"{name!r} is not a role name: use 1-32 lowercase letters, digits, - or _, "
                                  "starting with a letter")
        return None
    if name in RESERVED_NAMES:
        problem(path + ("name",), f"{name!r} means something else in permissions, so it cannot name a role")
        return None
    title = item.get("title")
    if title is None:
        default = DEFAULT_ROLES.get(name)
        return Role(name, default.title if default else name.replace("-", " ").replace("_", " ").capitalize())
    if isinstance(title, bool) or not isinstance(title, (str, int, float)) or not str(title).strip():
        problem(path + ("title",),
                "must not be empty" if isinstance(title, str) else f"must be text, not {kind_of(title)}")
        return None
    return Role(name, str(title).strip())


def incident_roles(incident, roles: RoleSet = DEFAULT_ROLES) -> RoleBook:
    """An incident's role holders: its stored book (`incident.roles`), with the commander the incident names."""
    book = RoleBook.from_json(incident.roles, roles)
    if incident.commander_id:
        book, _ = book.assign(COMMANDER, incident.commander_id)
    return book
