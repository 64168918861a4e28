"""The playbooks the bot runs, kept current while people edit the files: a broken edit keeps the last good version."""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from bot.problems import ConfigError, Problem
from bot.workflow.loader import MAX_FILE_BYTES, playbook_files, playbook_from_document
from bot.workflow.model import Playbook
from bot.yamlsource import Location, YamlSourceError, parse_yaml

__all__ = ["Changes", "PlaybookLibrary", "pick_names", "read_playbook_bytes"]

log = logging.getLogger(__name__)

# A file whose mtime is this close to when we last looked may change again within the same mtime tick
# (coarse filesystem clocks), so it is re-read even when mtime and size look the same.
_RACY_NS = 2_000_000_000

ProblemsCallback = Callable[[list[Problem]], Any]


def read_playbook_bytes(path: Path, data: bytes, *, commands: Collection[str] | None = None,
                        rules: Collection[str] | None = None) -> tuple[Playbook | None, list[Problem]]:
    """Validate one playbook file's content; return the playbook, or None and every problem."""
    where = Location(str(path), 1, 1)
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(where, "", f"the file is too large ({len(data)} bytes); a playbook may be at "
                                         f"most {MAX_FILE_BYTES // 1024} KiB")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(where, "", f"cannot read file: {exc}")]
    try:
        doc = parse_yaml(text, str(path))
    except YamlSourceError as exc:
        return None, [Problem(exc.location, "", exc.message)]
    try:
        return playbook_from_document(doc, commands=commands, rules=rules), []
    except ConfigError as exc:
        return None, list(exc.problems)


def pick_names(playbooks: Iterable[Playbook]) -> tuple[dict[str, Playbook], list[Problem]]:
    """Keep the first playbook of each name, in the order given (file-name order); report the others."""
    chosen: dict[str, Playbook] = {}
    problems: list[Problem] = []
    for playbook in playbooks:
        first = chosen.get(playbook.name)
        if first is None:
            chosen[playbook.name] = playbook
        else:
            problems.append(Problem(playbook.location, "name", f"playbook name {playbook.name!r} is already used "
                                                               f"by {Path(first.file).name}; this file is skipped"))
    return chosen, problems


@dataclass
class _File:
    """What the library knows about one file: how it looked when last read, and what it held."""

    stat: tuple[int, int]          # (mtime_ns, size)
    read_at_ns: int
    digest: str
    good: Playbook | None          # the last good version (kept while the file is broken)
    problems: list[Problem]        # the file's current problems; [] when it reads cleanly


@dataclass(frozen=True)
class Changes:
    """What one look at the folder found, by file path."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()     # newly broken, or broken differently than before
    fixed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.added, self.updated, self.removed, self.broken, self.fixed))


@dataclass
class _Scan:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class PlaybookLibrary:
    """The current good playbooks of a folder, by name.

    `await load()` reads the folder; `await check_for_changes()` re-reads only the files that changed (mtime,
    size and a content hash), and `watch()` repeats it. A file that breaks keeps its last good playbook running; its
    problems go to `on_problems` once per distinct broken state (sync or async callback). A deleted file's
    playbook goes away. When two files use the same name, the first by file name wins, as at start.
    """

    def __init__(self, directory: Path | str, *, commands: Collection[str] | None = None,
                 rules: Collection[str] | None = None, on_problems: ProblemsCallback | None = None):
        self.directory = Path(directory)
        self.commands = commands
        self.rules = rules
        self.on_problems = on_problems
        self._files: dict[str, _File] = {}
        self._by_name: dict[str, Playbook] = {}
        self._duplicates: dict[str, list[Problem]] = {}
        self._folder_problems: list[Problem] = []
        self._reported: dict[str, list[Problem]] = {}   # file (or folder) -> the problems last reported

    # -- reading

    def get(self, name: str) -> Playbook | None:
        """The playbook called `name`, or None."""
        return self._by_name.get(name)

    def all(self) -> list[Playbook]:
        """Every playbook, in file-name order."""
        return sorted(self._by_name.values(), key=lambda p: (Path(p.file).name, p.name))

    @property
    def problems(self) -> list[Problem]:
        """Everything wrong right now: the folder, then each file by name."""
        found = list(self._folder_problems)
        for path in sorted(self._files, key=lambda p: Path(p).name):
            found += self._files[path].problems + self._duplicates.get(path, [])
        return found

    # -- loading

    async def load(self) -> Changes:
        """Read the folder (the first time, or again from scratch); report what is broken."""
        self._files.clear()
        self._by_name.clear()
        self._duplicates.clear()
        self._reported.clear()
        return await self.check_for_changes()

    async def check_for_changes(self) -> Changes:
        """Re-read the files that changed since the last look; report new broken states."""
        changes = self._scan()
        await self._report()
        return changes

    async def watch(self, interval: float = 2.0) -> None:
        """Look for changes every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_for_changes()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a bad look must not stop the watching
                log.exception("checking %s for playbook changes failed", self.directory)

    def _scan(self) -> Changes:
        try:
            paths = playbook_files(self.directory)
        except OSError as exc:
            # A vanished or unreadable folder keeps every playbook: it is more likely an unmount than a wish.
            reason = "does not exist" if not self.directory.exists() else f"cannot be read: {exc.strerror or exc}"
            kept = "; keeping the playbooks already loaded" if self._by_name else ""
            self._folder_problems = [Problem(Location(str(self.directory), 1, 1), "",
                                             f"the playbooks folder {reason}{kept}")]
            return Changes()
        self._folder_problems = []
        scan = _Scan()
        before_problems = {path: state.problems + self._duplicates.get(path, []) for path, state in self._files.items()}
        present = {str(path) for path in paths}
        for gone in [path for path in self._files if path not in present]:
            del self._files[gone]
            scan.removed.append(gone)
            log.info("playbook file %s was removed", gone)
        for path in paths:
            self._look_at(path, scan)
        self._resolve_names()
        broken, fixed = [], []
        for path, state in self._files.items():
            now = state.problems + self._duplicates.get(path, [])
            was = before_problems.get(path)
            if now and now != was:
                broken.append(path)
            elif not now and was:
                fixed.append(path)
                log.info("playbook file %s is fixed", path)
        return Changes(tuple(scan.added), tuple(scan.updated), tuple(scan.removed), tuple(broken), tuple(fixed))

    def _look_at(self, path: Path, scan: _Scan) -> None:
        key = str(path)
        known = self._files.get(key)
        try:
            info = path.stat()
            stat = (info.st_mtime_ns, info.st_size)
            if known and known.stat == stat and stat[0] + _RACY_NS < known.read_at_ns:
                return
            read_at = time.time_ns()
            data = path.read_bytes()
        except FileNotFoundError:
            if known:  # deleted between listing and reading
                del self._files[key]
                scan.removed.append(key)
            return
        except OSError as exc:
            problems = [Problem(Location(key, 1, 1), "", f"cannot read file: {exc.strerror or exc}")]
            if known:
                known.problems = problems
            else:
                self._files[key] = _File((0, 0), 0, "", None, problems)
            return
        digest = hashlib.sha256(data).hexdigest()
        if known and known.digest == digest:
            known.stat, known.read_at_ns = stat, read_at
            return
        playbook, problems = read_playbook_bytes(path, data, commands=self.commands, rules=self.rules)
        if known is None:
            self._files[key] = _File(stat, read_at, digest, playbook, problems)
            scan.added.append(key)
            log.info("playbook file %s %s", key, "loaded" if playbook else "has problems")
            return
        known.stat, known.read_at_ns, known.digest, known.problems = stat, read_at, digest, problems
        if playbook is not None:
            known.good = playbook
            scan.updated.append(key)
            log.info("playbook file %s reloaded", key)
        else:
            log.warning("playbook file %s has problems; %s", key,
                        f"keeping the last good version of {known.good.name!r}" if known.good else "not loaded")

    def _resolve_names(self) -> None:
        ordered = sorted(self._files.items(), key=lambda item: Path(item[0]).name)
        good = [state.good for _, state in ordered if state.good is not None]
        self._by_name, problems = pick_names(good)
        self._duplicates = {}
        for problem in problems:
            self._duplicates.setdefault(problem.location.file, []).append(problem)

    # -- reporting

    def _new_problem_states(self) -> list[list[Problem]]:
        """The problem lists not reported yet (one per file, and one for the folder); forget fixed ones."""
        current: dict[str, list[Problem]] = {}
        if self._folder_problems:
            current[str(self.directory)] = list(self._folder_problems)
        for path in sorted(self._files, key=lambda p: Path(p).name):
            found = self._files[path].problems + self._duplicates.get(path, [])
            if found:
                current[path] = found
        fresh = [problems for key, problems in current.items() if self._reported.get(key) != problems]
        self._reported = current
        return fresh

    async def _report(self) -> None:
        for problems in self._new_problem_states():
            if self.on_problems is None:
                continue
            try:
                result = self.on_problems(problems)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - reporting must not stop the reloading
                log.exception("on_problems failed for %s", problems[0].location.file)
