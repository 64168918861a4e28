"""The playbook tools behind `incident-bot check`, `simulate` and `schema`: they read files and print, nothing else."""
from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Collection, TextIO

from bot.alerts.model import Alert
from bot.chatops.json_schema import commands_json_schema
from bot.chatops.loader import load_commands
from bot.alerts.payloads import PayloadError, alerts_from_alertmanager_webhook, alerts_from_generic_json
from bot.config import Config, ConfigError, load_config
from bot.incidents.model import Severity
from bot.people.roles import DEFAULT_ROLES
from bot.problems import Problem
from bot.workflow.json_schema import playbook_json_schema
from bot.workflow.library import pick_names, read_playbook_bytes
from bot.workflow.loader import playbook_files
from bot.workflow.model import Playbook
from bot.workflow.simulation import SIMULATION_START, Simulation
from bot.yamlsource import Location, YamlSourceError, load_yaml_file

DEFAULT_CONFIG = Path("config.yaml")
DEFAULT_PLAYBOOKS = Path("playbooks")


class UsageError(Exception):
    """A command line that cannot be carried out (a missing file, a bad alert payload); exit code 2."""


# -- check


def config_names(config: Config) -> tuple[Collection[str] | None, Collection[str]]:
    """The command allow-list names (None when the config has no allow-list) and the alert rule names."""
    rules = [rule.name for rule in config.alerts.rules]
    commands = getattr(config, "commands", None)   # a CommandAllowList when the config has a `commands:` section
    if commands is None:
        return None, rules
    if hasattr(commands, "names"):
        return list(commands.names()), rules
    return (list(commands) if isinstance(commands, Mapping) else None), rules


def _targets(paths: list[Path]) -> tuple[list[list[Path]], list[Problem]]:
    """The playbook files to check, grouped by folder (names must be unique within a folder, as the bot loads one)."""
    groups: dict[Path, list[Path]] = {}
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            try:
                groups.setdefault(path, []).extend(playbook_files(path))
            except OSError as exc:
                problems.append(Problem(Location(str(path), 1, 1), "", f"cannot read the folder: {exc.strerror}"))
        elif path.is_file():
            groups.setdefault(path.parent, []).append(path)
        else:
            problems.append(Problem(Location(str(path), 1, 1), "", "no such file or folder"))
    return [list(dict.fromkeys(files)) for files in groups.values()], problems


def check(paths: list[str], *, config: str | None = None, use_config: bool = True, out: TextIO) -> int:
    """Validate the config (when given or found) and playbooks; print every problem and a summary; 1 if any."""
    config_path = Path(config) if config else (DEFAULT_CONFIG if use_config and DEFAULT_CONFIG.is_file() else None)
    loaded: Config | None = None
    config_problems: list[Problem] = []
    if config_path is not None:
        if not config_path.is_file():
            raise UsageError(f"no config file {config_path}")
        try:
            loaded = load_config(config_path)
        except ConfigError as exc:
            config_problems = list(exc.problems)
    commands, rules = config_names(loaded) if loaded else (None, None)
    if paths:
        targets = [Path(p) for p in paths]
    else:
        targets = [loaded.playbooks.dir if loaded else DEFAULT_PLAYBOOKS]
    groups, problems = _targets(targets)
    for problem in config_problems + problems:
        print(problem, file=out)
    ok = bad = 0
    names: set[str] = set()
    for files in groups:
        good: list[Playbook] = []
        per_file: dict[str, list[Problem]] = {}
        for path in files:
            playbook, found = _load(path, commands, rules)
            per_file[str(path)] = found
            if playbook is not None:
                good.append(playbook)
        chosen, duplicates = pick_names(good)
        names.update(chosen)
        for problem in duplicates:
            per_file[problem.location.file].append(problem)
        for found in per_file.values():
            for problem in found:
                print(problem, file=out)
            ok, bad = (ok, bad + 1) if found else (ok + 1, bad)
    if loaded is not None and not paths:  # the folder checked is the one the bot will load
        missing = _default_playbook_problem(loaded, config_path, names)
        if missing is not None:
            print(missing, file=out)
            config_problems.append(missing)
    summary = f"{ok} playbook{'' if ok == 1 else 's'} OK, {bad} with problems"
    command_count, command_problems = _check_custom_commands(loaded, targets if paths else None, commands)
    for problem in command_problems:
        print(problem, file=out)
    if command_count or command_problems:
        summary += f"; {command_count} custom command{'' if command_count == 1 else 's'} OK"
        summary += f", {len(command_problems)} problem{'' if len(command_problems) == 1 else 's'}" \
            if command_problems else ""
    if config_path is not None:
        count = len(config_problems)
        summary += f"; {config_path}: " + (f"{count} problem{'' if count == 1 else 's'}" if count else "OK")
    print(summary, file=out)
    return 1 if bad or problems or config_problems or command_problems else 0


def _check_custom_commands(config: Config | None, targets: list[Path] | None,
                           allow_list: Collection[str] | None) -> tuple[int, list[Problem]]:
    """Check the custom command files: the config's folder, or the `commands` folder inside each folder given."""
    if targets is None:
        folders = [config.chatops.dir or config.playbooks.dir / "commands"] if config else \
            [DEFAULT_PLAYBOOKS / "commands"]
    else:
        folders = [path / "commands" for path in targets if path.is_dir()]
    roles = config.people.roles if config else DEFAULT_ROLES
    count, problems = 0, []
    for folder in folders:
        commands, found = load_commands(folder, allow_list=allow_list, roles=roles)
        count += len(commands)
        problems += found
    return count, problems


def _default_playbook_problem(config: Config, config_path: Path, names: Collection[str]) -> Problem | None:
    """The config's `playbooks.default` when it names no playbook (configs without that setting pass)."""
    default = getattr(config.playbooks, "default", "")
    if not default or default in names:
        return None
    try:
        where = load_yaml_file(config_path).where(("playbooks", "default"))
    except YamlSourceError:
        where = Location(str(config_path), 1, 1)
    close = difflib.get_close_matches(default, sorted(names), n=1)
    return Problem(where, "playbooks.default", f"no playbook is named {default!r}"
                   + (f" (did you mean {close[0]!r}?)" if close else ""))


def _load(path: Path, commands: Collection[str] | None = None,
          rules: Collection[str] | None = None) -> tuple[Playbook | None, list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(Location(str(path), 1, 1), "", f"cannot read file: {exc.strerror or exc}")]
    return read_playbook_bytes(path, data, commands=commands, rules=rules)


# -- simulate


def find_playbook(ref: str, directory: Path) -> tuple[Playbook | None, list[Problem]]:
    """A playbook by file path, or by name in `directory`; None and the problems when it does not load."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.is_file() or "/" in ref:
        if not path.is_file():
            raise UsageError(f"no playbook file {ref}")
        return _load(path)
    if not directory.is_dir():
        raise UsageError(f"no playbook file {ref}, and no playbooks folder {directory} to look it up in")
    files = playbook_files(directory)
    for candidate in files:
        if candidate.stem == ref:
            playbook, problems = _load(candidate)
            if playbook is None or playbook.name == ref:
                return playbook, problems
    names: list[str] = []
    for candidate in files:
        playbook, _ = _load(candidate)
        if playbook is not None and playbook.name == ref:
            return playbook, []
        names += [playbook.name] if playbook else []
    close = difflib.get_close_matches(ref, names, n=1)
    raise UsageError(f"no playbook named {ref!r} in {directory}" + (f" (did you mean {close[0]!r}?)" if close else "")
                     + (f"; playbooks: {', '.join(sorted(names))}" if names else ""))


def read_alert(path: Path) -> tuple[Alert, int]:
    """The first alert of a JSON file (Alertmanager webhook or generic alert JSON), and how many it held."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    webhook = isinstance(data, dict) and "version" in data and "groupKey" in data
    try:
        alerts = alerts_from_alertmanager_webhook(data) if webhook else alerts_from_generic_json(data)
    except PayloadError as exc:
        kind = "an Alertmanager webhook payload" if webhook else "generic alert JSON"
        raise UsageError(f"{path} is not valid {kind}: {exc}") from None
    firing = [alert for alert in alerts if alert.is_firing]
    return (firing or alerts)[0], len(alerts)


def simulate(ref: str, *, directory: str | None = None, alert: str | None = None, severity: str | None = None,
             title: str | None = None, out: TextIO) -> int:
    """Print what a playbook would do, in time order, on a fake clock; 1 when the playbook does not load."""
    chosen_severity = None
    if severity is not None:
        chosen_severity = Severity.parse(severity)
        if chosen_severity is None:
            raise UsageError(f"{severity!r} is not a severity (sev1, sev2, sev3, sev4)")
    playbook, problems = find_playbook(ref, Path(directory) if directory else DEFAULT_PLAYBOOKS)
    if playbook is None:
        for problem in problems:
            print(problem, file=out)
        print(f"the playbook does not load: {len(problems)} problem{'' if len(problems) == 1 else 's'}", file=out)
        return 1
    the_alert, count = read_alert(Path(alert)) if alert else (None, 0)
    simulation = Simulation(playbook, title=title, severity=chosen_severity, alert=the_alert, alert_count=count,
                            start=SIMULATION_START)
    for line in simulation.lines():
        print(line, file=out)
    return 0


# -- schema


def schema_text(commands: bool = False) -> str:
    """The playbook JSON Schema as `playbooks/playbook.schema.json` holds it, or the custom commands' one."""
    return json.dumps(commands_json_schema() if commands else playbook_json_schema(), indent=2) + "\n"


def schema(out_file: str | None, *, out: TextIO, commands: bool = False) -> int:
    """Print the JSON Schema, or write it to `out_file`."""
    if out_file is None:
        out.write(schema_text(commands))
        return 0
    try:
        Path(out_file).write_text(schema_text(commands), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out_file}: {exc.strerror}") from None
    print(f"wrote {out_file}", file=out)
    return 0

