"""Custom user groups: licence gates, validation, membership and the websocket events they send."""
from __future__ import annotations

import copy
import logging
import re
from typing import TYPE_CHECKING, Iterable

from .errors import AppError
from .events import Event, compact
from .ids import is_valid_id, now_ms
from .models import group_json, group_member_json

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

NAME_MAX = 64
DISPLAY_NAME_MAX = 128
DESCRIPTION_MAX = 1024
RESERVED_NAMES = frozenset({"all", "channel", "here"})
VALID_NAME = re.compile(r"^[a-z0-9.\-_]+$")


def group_not_found() -> AppError:
    """Return GetGroup's 404."""
    return AppError(404, "app.group.no_rows", "No matching group found.")


def license_error() -> AppError:
    """Return requireLicense's answer on an unlicensed server: 501 with the generic id."""
    return AppError(501, "api.license_error", "Your license does not support this feature.")


def ldap_groups_license_error() -> AppError:
    """Return the 403 for a route that needs License().Features.LDAPGroups (Enterprise)."""
    return AppError(403, "api.ldap_groups.license_error", "Your license does not support LDAP groups.")


class Groups:
    """Store and change custom groups as api4/group.go and app/group.go do."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    # ---------------------------------------------------------------- licence
    def require_license(self) -> None:
        """Apply requireLicense, every group route's first statement."""
        if not self.core.settings.licensed:
            raise license_error()

    def require_custom_groups(self) -> None:
        """Apply licensedAndConfiguredForGroupBySource for source "custom"."""
        settings = self.core.settings
        if not settings.licensed:
            raise AppError(403, "api.license_error", "Your license does not support this feature.")
        if not settings.minimum_professional:
            raise AppError(400, "api.custom_groups.license_error",
                           "Your license does not support custom groups.")
        if not settings.enable_custom_groups:
            raise AppError(400, "api.custom_groups.feature_disabled", "Custom user groups feature is disabled.")

    # ---------------------------------------------------------------- reads
    def get(self, group_id: str, include_member_count: bool = False) -> dict:
        """Return a group's JSON (deleted ones too, as the store's Get does), or raise the 404."""
        group = self.state.groups.get(group_id)
        if group is None:
            raise group_not_found()
        return self.for_client(group, include_member_count)

    def for_client(self, group: dict, include_member_count: bool = False) -> dict:
        """Return a copy of the group, with member_count when asked for."""
        body = copy.deepcopy(group)
        if include_member_count:
            body["member_count"] = len(self.member_ids(group["id"]))
        return body

    def member_ids(self, group_id: str) -> list[str]:
        """Return the ids of the group's active members whose accounts are active."""
        members = self.state.group_members.get(group_id, {})
        return [uid for uid, m in members.items()
                if not m["delete_at"] and uid in self.state.users and not self.state.users[uid]["delete_at"]]

    def members(self, group_id: str) -> list[dict]:
        """Return the group's member users, ordered by username (GetMemberUsersSortedPage, ShowUsername)."""
        users = [self.state.users[uid] for uid in self.member_ids(group_id)]
        return sorted(users, key=lambda u: u["username"])

    def search(self, *, q: str = "", has_member: str = "", include_archived: bool = False,
               filter_archived: bool = False, allow_reference_only: bool = True) -> list[dict]:
        """Return the groups GetGroups finds, ordered by display name."""
        needle = q.strip().lower()
        found = []
        for group in self.state.groups.values():
            if filter_archived and not group["delete_at"]:
                continue
            if group["delete_at"] and not (include_archived or filter_archived):
                continue
            if allow_reference_only and not group["allow_reference"]:
                continue
            if needle and needle not in (group["name"] or "").lower() and needle not in group["display_name"].lower():
                continue
            if has_member and has_member not in self.member_ids(group["id"]):
                continue
            found.append(group)
        return sorted(found, key=lambda g: (g["display_name"].lower(), g["id"]))

    def of_user(self, user_id: str) -> list[dict]:
        """Return the live groups the user belongs to (GetByUser), ordered by display name."""
        return [g for g in self.search(has_member=user_id)]

    # ---------------------------------------------------------------- writes
    def create(self, name: str, display_name: str, user_ids: Iterable[str], *, description: str = "") -> dict:
        """Validate and store a custom group with its first members; publish received_group."""
        self._check_name(name)
        if not display_name or len(display_name) > DISPLAY_NAME_MAX:
            raise AppError(400, "model.group.display_name.app_error",
                           f"Invalid display name: must be between 1 and {DISPLAY_NAME_MAX} characters.")
        if len(description) > DESCRIPTION_MAX:
            raise AppError(400, "model.group.description.app_error",
                           f"Invalid description: must be at most {DESCRIPTION_MAX} characters.")
        if self.state.user_by_username(name):
            raise AppError(400, "app.group.username_conflict", f"A user with the username \"{name}\" already exists.")
        if any(g["name"] == name for g in self.state.groups.values()):
            raise AppError(400, "app.custom_group.unique_name", "The group name is not unique.")
        ids = self._existing_users(user_ids)
        now = now_ms()
        group = group_json(name, display_name, now=now, description=description)
        self.state.groups[group["id"]] = group
        self.state.group_members[group["id"]] = {uid: group_member_json(group["id"], uid, now=now) for uid in ids}
        created = self.for_client(group, include_member_count=True)
        self.core.hub.publish(Event("received_group", {"group": compact(created)}))
        return created

    def add_members(self, group_id: str, user_ids: Iterable[str]) -> list[dict]:
        """Add (or restore) members; publish group_member_add to each of them; return the GroupMembers."""
        ids = self._existing_users(user_ids)
        members = self.state.group_members.setdefault(group_id, {})
        now = now_ms()
        changed = []
        for uid in ids:
            member = members.get(uid)
            if member is None or member["delete_at"]:
                member = group_member_json(group_id, uid, now=now)
                members[uid] = member
            changed.append(copy.deepcopy(member))
        for member in changed:
            self.core.hub.publish(Event("group_member_add", {"group_member": compact(member)},
                                        user_id=member["user_id"]))
        return changed

    def _check_name(self, name: str) -> None:
        """Apply Group.IsValidName for a referenceable group."""
        if not name or len(name) > NAME_MAX:
            raise AppError(400, "model.group.name.invalid_length.app_error",
                           f"Name must be 1 to {NAME_MAX} lowercase alphanumeric characters.")
        if name in RESERVED_NAMES:
            raise AppError(400, "model.group.name.reserved_name.app_error", "Group name already exists.")
        if not VALID_NAME.match(name):
            raise AppError(400, "model.group.name.invalid_chars.app_error",
                           "Invalid characters in the name property for group")

    def _existing_users(self, user_ids: Iterable[str]) -> list[str]:
        """Return the ids once each, in order, or raise app.group.user_not_found for an unknown one."""
        ids: list[str] = []
        for uid in user_ids:
            if uid not in self.state.users or not is_valid_id(uid):
                raise AppError(400, "app.group.user_not_found", f"Unable to find user \"{uid}\".")
            if uid not in ids:
                ids.append(uid)
        return ids
