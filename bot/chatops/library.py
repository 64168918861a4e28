"""The custom commands the running bot knows, kept up to date with their folder.

Like playbooks, edits are picked up without a restart: a file that breaks keeps its last good commands (and
its problems are reported once); a removed file takes its commands with it.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Collection

from bot.chatops.loader import load_command_file, merge_commands
from bot.chatops.model import CustomCommand
from bot.people.roles import DEFAULT_ROLES, RoleSet
from bot.problems import ConfigError, Problem
from bot.workflow.loader import playbook_files

log = logging.getLogger(__name__)

Signature = tuple[int, int]   # (mtime in ns, size)


@dataclass
class _File:
    signature: Signature
    commands: list[CustomCommand] = field(default_factory=list)   # the last good version
    problems: list[Problem] = field(default_factory=list)


class CommandLibrary:
    """The commands of a folder's files; `reload_if_changed` re-reads what changed."""

    def __init__(self, directory: Path, *, allow_list: Collection[str] | None = None, roles: RoleSet = DEFAULT_ROLES,
                 reserved: Collection[str] = (),
                 on_problems: Callable[[list[Problem]], Awaitable[None]] | None = None):
        self.directory = directory
        self.allow_list = allow_list
        self.roles = roles
        self.reserved = frozenset(reserved)
        self.on_problems = on_problems
        self.on_change: Callable[[dict[str, CustomCommand]], None] | None = None
        self.commands: dict[str, CustomCommand] = {}
        self._files: dict[str, _File] = {}
        self._reported: list[Problem] = []

    async def reload_if_changed(self) -> bool:
        """Re-read new and changed files, drop removed ones; True when the commands changed."""
        paths = self._paths()
        changed = False
        for gone in set(self._files) - {str(path) for path in paths}:
            del self._files[gone]
            changed = True
        for path in paths:
            signature = _signature(path)
            known = self._files.get(str(path))
            if known is not None and known.signature == signature:
                continue
            state = known or _File(signature)
            state.signature = signature
            try:
                state.commands = load_command_file(path, allow_list=self.allow_list, roles=self.roles)
                state.problems = []
            except ConfigError as exc:
                state.problems = list(exc.problems)   # the last good commands stay
            self._files[str(path)] = state
            changed = True
        if not changed:
            return False
        commands, problems = self._merged()
        new = commands != self.commands
        self.commands = commands
        if problems != self._reported:
            self._reported = problems
            if problems and self.on_problems is not None:
                await self.on_problems(problems)
        if new:
            log.info("custom commands: %s", ", ".join(sorted(commands)) or "none")
            if self.on_change is not None:
                self.on_change(commands)
        return new

    async def watch(self, interval: float = 2.0) -> None:
        """Look for edits every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload_if_changed()
            except asyncio.CancelledError:
                raise
            except Exception:   # noqa: BLE001 - a bad look must not stop the watching
                log.exception("checking %s for command changes failed", self.directory)

    def _paths(self) -> list[Path]:
        try:
            return playbook_files(self.directory) if self.directory.is_dir() else []
        except OSError as exc:
            log.warning("cannot read the commands folder %s: %s; keeping the commands loaded", self.directory, exc)
            return [Path(path) for path in self._files]

    def _merged(self) -> tuple[dict[str, CustomCommand], list[Problem]]:
        files = [self._files[path] for path in sorted(self._files)]
        commands, clashes = merge_commands([state.commands for state in files], self.reserved)
        return commands, [problem for state in files for problem in state.problems] + clashes


def _signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except OSError:
        return (0, -1)
    return (stat.st_mtime_ns, stat.st_size)

