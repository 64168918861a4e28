"""Allow-listed diagnostic commands: fixed argv from config, checked arguments, no shell, bounded time and output."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
MAX_ARG_LENGTH = 200
# The child gets these from the bot's environment and nothing else, so secrets such as the bot token stay home.
PASSED_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_KNOWN_KEYS = frozenset({"argv", "max_args", "arg_pattern", "allow_options", "timeout", "cwd", "env"})
_READ_CHUNK = 65536
_DRAIN_GRACE = 2.0
_EXIT_POLL = 0.01


class CommandConfigError(ValueError):
    """An allow-list entry that cannot be used, naming the entry and the field."""


@dataclass(frozen=True)
class AllowedCommand:
    """One command a playbook may run: its fixed argv and what it accepts after it."""

    name: str
    argv: tuple[str, ...]
    max_args: int = 0
    arg_pattern: re.Pattern[str] | None = None
    allow_options: bool = False
    timeout: float = DEFAULT_TIMEOUT
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def refusal(self, args: Sequence[str]) -> str:
        """Say why `args` may not follow this command, or return ''."""
        if len(args) > self.max_args:
            return f"{self.name} takes at most {self.max_args} argument(s), got {len(args)}"
        for position, arg in enumerate(args, start=1):
            if not isinstance(arg, str):
                return f"argument {position} is not text"
            if len(arg) > MAX_ARG_LENGTH:
                return f"argument {position} is longer than {MAX_ARG_LENGTH} characters"
            if _CONTROL_CHARS.search(arg):
                return f"argument {position} contains control characters (NUL, newline, ...)"
            if arg.startswith("-") and not self.allow_options:
                return f"argument {position} ({arg!r}) looks like an option, which {self.name} does not allow"
            if self.arg_pattern is not None and not self.arg_pattern.fullmatch(arg):
                return f"argument {position} ({arg!r}) does not match {self.arg_pattern.pattern}"
        return ""


@dataclass(frozen=True)
class CommandAllowList:
    """The commands a playbook may run, by name."""

    commands: Mapping[str, AllowedCommand]

    @classmethod
    def from_config(cls, entries: Mapping[str, Mapping[str, Any]], *, source: str = "commands") -> CommandAllowList:
        """Build the list from config: {name: {argv, max_args, arg_pattern, allow_options, timeout, cwd, env}}."""
        if not isinstance(entries, Mapping):
            raise CommandConfigError(f"{source}: expected a mapping of command names to entries")
        commands = {str(name): _parse_entry(f"{source}.{name}", str(name), entry) for name, entry in entries.items()}
        return cls(MappingProxyType(commands))

    def get(self, name: str) -> AllowedCommand | None:
        """The entry called `name`, or None."""
        return self.commands.get(name)

    def names(self) -> list[str]:
        """The allowed names, sorted."""
        return sorted(self.commands)


@dataclass(frozen=True)
class CommandOutcome:
    """What became of one command: its exit code and output, or why it did not run."""

    ok: bool
    exit_code: int | None
    output: str
    timed_out: bool = False
    refused_reason: str = ""
    error: str = ""


async def run_allowed(
    allow_list: CommandAllowList,
    name: str,
    args: Sequence[str],
    *,
    timeout: float | None = None,
    max_output: int = 16384,
) -> CommandOutcome:
    """Run the allow-listed command `name` with `args` appended, never through a shell."""
    command = allow_list.get(name)
    if command is None:
        return _refused(f"{name!r} is not an allowed command")
    args = list(args)
    reason = command.refusal(args)
    if reason:
        return _refused(reason)
    limit = command.timeout if timeout is None else timeout
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ} | dict(command.env)
    try:
        process = await asyncio.create_subprocess_exec(
            *command.argv, *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            cwd=command.cwd, env=env, start_new_session=True,  # its own process group, so a kill reaches children
        )
    except OSError as exc:
        return CommandOutcome(ok=False, exit_code=None, output="",
                              error=f"cannot start {command.argv[0]}: {exc.strerror or exc}")
    assert process.stdout is not None
    capture = _CappedOutput(max_output)
    reader = asyncio.create_task(capture.drain(process.stdout))
    timed_out = False
    try:
        async with asyncio.timeout(limit):
            await _exited(process)
    except TimeoutError:
        timed_out = True
    finally:
        # Kill the whole group: on timeout that is the point; after a normal exit it removes stray children
        # that would otherwise hold the output pipe open and outlive the action.
        _kill_group(process.pid)
        # A grandchild that left the group (setsid) could still hold the pipe; do not wait on it for long.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN_GRACE):
                await _exited(process)
                await reader
    output = capture.text()
    if timed_out:
        return CommandOutcome(ok=False, exit_code=process.returncode, output=output, timed_out=True,
                              error=f"timed out after {limit:g}s")
    return CommandOutcome(ok=process.returncode == 0, exit_code=process.returncode, output=output)


async def _exited(process: asyncio.subprocess.Process) -> None:
    """Wait until the process itself has exited."""
    # Process.wait() also waits until every holder of the output pipe has closed it, which a backgrounded
    # child can put off indefinitely, so watch the exit status instead.
    while process.returncode is None:
        await asyncio.sleep(_EXIT_POLL)


class _CappedOutput:
    """Keep the first `limit` bytes of a stream and count the rest while draining it."""

    def __init__(self, limit: int) -> None:
        self._limit = max(limit, 0)
        self._kept = bytearray()
        self.dropped = 0

    async def drain(self, stream: asyncio.StreamReader) -> None:
        """Read `stream` to its end, keeping what fits."""
        while chunk := await stream.read(_READ_CHUNK):
            room = self._limit - len(self._kept)
            self._kept += chunk[:room] if room > 0 else b""
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        """The kept output as text, with a note when some was dropped."""
        text = self._kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n… (truncated {self.dropped} bytes)"
        return text


def _refused(reason: str) -> CommandOutcome:
    log.info("refused command: %s", reason)
    return CommandOutcome(ok=False, exit_code=None, output="", refused_reason=reason)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _parse_entry(where: str, name: str, entry: Any) -> AllowedCommand:
    if not isinstance(entry, Mapping):
        raise CommandConfigError(f"{where}: expected a mapping with at least 'argv'")
    unknown = sorted(set(map(str, entry)) - _KNOWN_KEYS)
    if unknown:
        raise CommandConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    argv = entry.get("argv")
    if (not isinstance(argv, (list, tuple)) or not argv
            or not all(isinstance(part, str) and part and "\x00" not in part for part in argv)):
        raise CommandConfigError(f"{where}.argv: expected a non-empty list of non-empty strings")
    max_args = entry.get("max_args", 0)
    if isinstance(max_args, bool) or not isinstance(max_args, int) or max_args < 0:
        raise CommandConfigError(f"{where}.max_args: expected a whole number >= 0")
    pattern = entry.get("arg_pattern")
    compiled = None
    if pattern is not None:
        if not isinstance(pattern, str):
            raise CommandConfigError(f"{where}.arg_pattern: expected a regular expression string")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise CommandConfigError(f"{where}.arg_pattern: invalid regular expression: {exc}") from None
    allow_options = entry.get("allow_options", False)
    if not isinstance(allow_options, bool):
        raise CommandConfigError(f"{where}.allow_options: expected true or false")
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, (str, Path)):
        raise CommandConfigError(f"{where}.cwd: expected a path")
    env = entry.get("env") or {}
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise CommandConfigError(f"{where}.env: expected a mapping of strings to strings")
    return AllowedCommand(
        name=name, argv=tuple(argv), max_args=max_args, arg_pattern=compiled, allow_options=allow_options,
        timeout=_parse_timeout(f"{where}.timeout", entry.get("timeout", DEFAULT_TIMEOUT)),
        cwd=Path(cwd) if cwd is not None else None, env=MappingProxyType(dict(env)),
    )


def _parse_timeout(where: str, value: Any) -> float:
    """Read a timeout given as seconds (30, 2.5) or with a unit ("30s", "500ms", "2m")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        number, unit = float(match.group(1)), match.group(2) or "s"
        seconds = number / 1000 if unit == "ms" else number * 60 if unit == "m" else number
    else:
        raise CommandConfigError(f"{where}: expected seconds or a duration such as '30s', '500ms' or '2m'")
    if seconds <= 0:
        raise CommandConfigError(f"{where}: must be more than zero")
    return seconds
