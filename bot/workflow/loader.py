"""Read playbook files into `Playbook`s, reporting every problem with its file, line and key."""
from __future__ import annotations

import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any, Collection

from bot.problems import ConfigError, Problem
from jinja2 import TemplateSyntaxError

from bot.workflow import fields as f
from bot.workflow.template_check import playbook_environment
from bot.workflow.actions_schema import ACTIONS
from bot.workflow.model import AppliesTo, Checklist, Defaults, Invite, OnError, Playbook, Step
from bot.workflow.reader import BAD, Reader
from bot.yamlsource import Location, YamlDocument, YamlSourceError, parse_yaml

__all__ = ["load_playbook", "load_playbooks", "playbook_files", "playbook_from_document", "MAX_FILE_BYTES"]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024
PLAYBOOK_KEYS = ("name", "title", "description", "applies_to", "defaults", "invite", "welcome", "checklists",
                 "status_updates", "broadcast", "steps", "postmortem", "archive_on_resolve")
APPLIES_TO_KEYS = ("rules", "severities", "labels")
DEFAULTS_KEYS = ("severity", "channel_name", "private", "commander")
INVITE_KEYS = ("users", "groups", "oncall")
CHECKLIST_KEYS = ("title", "tasks")
STEP_KEYS = ("id", "when", "after", "after_previous", "on_error", "retries")


class _PlaybookReader(Reader):
    """Read one parsed playbook, collecting every problem instead of stopping at the first."""

    def __init__(self, doc: YamlDocument, commands: Collection[str] | None, rules: Collection[str] | None):
        super().__init__(doc, commands=commands)
        self.rules = rules

    # -- the playbook

    def playbook(self) -> Playbook | None:
        raw = self.doc.data
        if not isinstance(raw, dict):
            what = "empty" if raw is None else f.kind_of(raw)
            self.problem((), f"a playbook must be a mapping of keys such as name, checklists and steps, not {what}")
            return None
        data = self.mapping((), raw, PLAYBOOK_KEYS)
        if "name" not in data:
            self.problem((), "name is required but missing")
        name = self.optional(data, (), "name", f.pattern(f.PLAYBOOK_NAME, "a playbook name: lowercase letters, "
                                                         "digits and '-', like service-outage"), BAD)
        self.broadcast = self.optional(data, (), "broadcast", lambda v: f.unique(f.each(v, f.channel)), ())
        playbook = Playbook(
            name=name, file=self.doc.file,
            title=self.optional(data, (), "title", f.text, ""),
            description=self.optional(data, (), "description", f.text, ""),
            applies_to=self.applies_to(("applies_to",), data["applies_to"]) if "applies_to" in data else None,
            defaults=self.defaults(("defaults",), data.get("defaults")),
            invite=self.invite(("invite",), data.get("invite")),
            welcome=self.template(("welcome",), data["welcome"], welcome=True) if "welcome" in data else "",
            checklists=self.checklists(("checklists",), data.get("checklists")),
            status_updates=self.status_updates(("status_updates",), data.get("status_updates", {})),
            broadcast=self.broadcast,
            steps=self.steps(("steps",), data.get("steps")),
            postmortem=self.optional(data, (), "postmortem", _postmortem_template, ""),
            archive_on_resolve=self.optional(data, (), "archive_on_resolve", _flag, False),
            location=self.doc.where(("name",)),
        )
        self.check_task_refs()
        return None if self.problems else playbook

    def applies_to(self, path: tuple, raw: Any) -> AppliesTo | None:
        data = self.mapping(path, raw, APPLIES_TO_KEYS)
        if not data and (raw is None or isinstance(raw, dict)):
            self.problem(path, "needs rules, severities or labels; leave applies_to out to pick this playbook "
                               "only by name")
        rules = self.optional(data, path, "rules", lambda v: f.each(v, f.text, empty_ok=False), ())
        if self.rules is not None:
            for index, rule in enumerate(rules):
                if rule not in self.rules:
                    sub = (index,) if isinstance(data["rules"], list) else ()
                    self.problem(path + ("rules",) + sub, f"no alert rule is named {rule!r}"
                                 + f.did_you_mean(rule, sorted(self.rules)))
        severities = self.optional(data, path, "severities", lambda v: f.each(v, f.severity, empty_ok=False), ())
        labels = self.labels(path + ("labels",), data["labels"]) if "labels" in data else ()
        return AppliesTo(rules=frozenset(rules), severities=frozenset(severities), labels=labels)

    def labels(self, path: tuple, raw: Any) -> tuple:
        if not isinstance(raw, dict) or not raw:
            self.problem(path, f"must be a mapping of label to value, like {{env: prod}}, not {f.kind_of(raw)}")
            return ()
        pairs = [(str(label), self.value(path + (label,), value, f.value_matcher)) for label, value in raw.items()]
        return tuple(pair for pair in pairs if pair[1] is not BAD)

    def defaults(self, path: tuple, raw: Any) -> Defaults:
        data = self.mapping(path, raw, DEFAULTS_KEYS)
        channel = self.template(path + ("channel_name",), data["channel_name"]) if "channel_name" in data else ""
        return Defaults(
            severity=self.optional(data, path, "severity", f.severity, None),
            channel_name="" if channel is BAD else channel,
            private=self.optional(data, path, "private", f.boolean, False),
            commander=self.optional(data, path, "commander", f.username, ""),
        )

    def invite(self, path: tuple, raw: Any) -> Invite:
        data = self.mapping(path, raw, INVITE_KEYS)
        return Invite(
            users=self.optional(data, path, "users", lambda v: f.unique(f.each(v, f.username)), ()),
            groups=self.optional(data, path, "groups", lambda v: f.unique(f.each(v, f.group)), ()),
            oncall=self.optional(data, path, "oncall", lambda v: f.unique(f.each(v, f.text)), ()),
        )

    def status_updates(self, path: tuple, raw: Any) -> MappingProxyType:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping of severity to interval, like {{sev1: 15m, sev4: off}}, "
                               f"not {f.kind_of(raw)}")
            return MappingProxyType({})
        cadence = {}
        for key, value in raw.items():
            severity = self.value(path + (key,), key, f.severity)
            every = self.value(path + (key,), value, f.cadence)
            if severity is not BAD and every is not BAD:
                cadence[severity] = every
        return MappingProxyType(cadence)

    # -- checklists and tasks

    def checklists(self, path: tuple, raw: Any) -> tuple[Checklist, ...]:
        result, seen = [], set()
        for item_path, item in self.items(path, raw, "checklists"):
            data = self.mapping(item_path, item, CHECKLIST_KEYS, "a checklist with title and tasks")
            for key in CHECKLIST_KEYS:
                if isinstance(item, dict) and key not in data:
                    self.problem(item_path, f"{key} is required but missing")
            title = self.optional(data, item_path, "title", f.text, "")
            if title and title.lower() in seen:
                self.problem(item_path + ("title",), f"another checklist is already titled {title!r}")
            seen.add(title.lower())
            tasks = self.tasks(item_path + ("tasks",), data["tasks"]) if "tasks" in data else ()
            result.append(Checklist(title, tasks, self.doc.where(item_path)))
        return tuple(result)

    # -- steps

    def steps(self, path: tuple, raw: Any) -> tuple[Step, ...]:
        steps: list[Step] = []
        ids: dict[str, tuple] = {}
        for index, (item_path, item) in enumerate(self.items(path, raw, "steps")):
            step = self.step(item_path, item, index)
            if step is None:
                continue
            if step.id in ids:
                self.problem(item_path + ("id",) if isinstance(item, dict) and "id" in item else item_path,
                             f"duplicate step id {step.id!r} (also {f.dotted(ids[step.id])})")
            ids.setdefault(step.id, item_path)
            steps.append(step)
        return tuple(steps)

    def step(self, path: tuple, raw: Any, index: int) -> Step | None:
        if not isinstance(raw, dict):
            self.problem(path, f"a step must be a mapping with one action, like {{post: {{message: ...}}}}, "
                               f"not {f.kind_of(raw)}")
            return None
        kinds = [key for key in raw if key in ACTIONS]
        unknown = [key for key in raw if key not in ACTIONS and key not in STEP_KEYS]
        for key in unknown:
            if kinds:
                self.problem(path + (key,), f"unknown step option{f.did_you_mean(key, STEP_KEYS)}; "
                                            f"options: {', '.join(STEP_KEYS)}")
            else:
                self.unknown_action(path + (key,), key, f"; step options: {', '.join(STEP_KEYS)}")
        if len(kinds) > 1:
            self.problem(path + (kinds[1],), f"a step runs one action, but this one has {' and '.join(kinds)}; "
                                             f"split it into {len(kinds)} steps")
        elif not kinds and not unknown:
            self.problem(path, f"a step needs an action: one of {', '.join(ACTIONS)}")
        action = self.action(path + (kinds[0],), kinds[0], raw[kinds[0]]) if kinds else None
        data = {k: v for k, v in raw.items() if k in STEP_KEYS}
        on_error = self.optional(data, path, "on_error",
                                 lambda v: OnError(f.choice(v, [e.value for e in OnError])), OnError.STOP)
        retries = self.optional(data, path, "retries", f.retries, 3 if on_error is OnError.RETRY else 0)
        if "retries" in data and on_error is not OnError.RETRY:
            self.problem(path + ("retries",), "has no effect without `on_error: retry`")
        after_previous = self.optional(data, path, "after_previous", f.boolean, False)
        if after_previous and index == 0:
            self.problem(path + ("after_previous",), "the first step has no previous step; leave this out")
        when = ""
        if "when" in data:
            when = self.value(path + ("when",), data["when"], _expression)
            for message in ([] if when is BAD else self.checker.expression(when)):
                self.problem(path + ("when",), message)
        step_id = self.optional(data, path, "id", f.pattern(f.STEP_ID, "a step id: lowercase letters, digits, "
                                                            "'-' and '_', like announce"), f"step-{index + 1}")
        if action is None:
            return None
        return Step(id=step_id, action=action, when=when if isinstance(when, str) else "",
                    after=self.optional(data, path, "after", f.duration, 0), after_previous=after_previous,
                    on_error=on_error, retries=retries, location=self.doc.where(path))


def _expression(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("write a condition in quotes, like \"alert.labels.env == 'prod'\"; "
                         "leave `when` out to always run the step")
    return f.text(value)


def playbook_from_document(doc: YamlDocument, *, commands: Collection[str] | None = None,
                           rules: Collection[str] | None = None) -> Playbook:
    """Validate a parsed playbook; raise ConfigError listing every problem.

    `commands` (the run_command allow-list) and `rules` (alert rule names) are checked when given.
    """
    reader = _PlaybookReader(doc, commands, rules)
    playbook = reader.playbook()
    if reader.problems or playbook is None:
        raise ConfigError(sorted(reader.problems, key=lambda p: (p.location.line, p.location.column)))
    return playbook


def load_playbook(path: Path | str, *, commands: Collection[str] | None = None,
                  rules: Collection[str] | None = None) -> Playbook:
    """Read and validate one playbook file; raise ConfigError listing every problem."""
    path = Path(path)
    where = Location(str(path), 1, 1)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([Problem(where, "", f"the file is too large ({size} bytes); a playbook may be at "
                                                  f"most {MAX_FILE_BYTES // 1024} KiB")])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(where, "", f"cannot read file: {exc}")]) from None
    try:
        doc = parse_yaml(text, str(path))
    except YamlSourceError as exc:
        raise ConfigError([Problem(exc.location, "", exc.message)]) from None
    return playbook_from_document(doc, commands=commands, rules=rules)


def playbook_files(directory: Path | str) -> list[Path]:
    """The playbook files in a folder, by file name: *.yaml and *.yml, skipping hidden files."""
    folder = Path(directory)
    return sorted((p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")
                   and p.is_file()), key=lambda p: p.name)


def load_playbooks(directory: Path | str, *, commands: Collection[str] | None = None,
                   rules: Collection[str] | None = None) -> tuple[dict[str, Playbook], list[Problem]]:
    """Load every playbook in a folder, by file name; a broken file is reported and skipped, the rest load."""
    folder = Path(directory)
    if not folder.is_dir():
        return {}, [Problem(Location(str(folder), 1, 1), "", "the playbooks folder does not exist")]
    playbooks: dict[str, Playbook] = {}
    problems: list[Problem] = []
    for path in playbook_files(folder):
        try:
            playbook = load_playbook(path, commands=commands, rules=rules)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        first = playbooks.get(playbook.name)
        if first is not None:
            problems.append(Problem(playbook.location, "name", f"playbook name {playbook.name!r} is already used "
                                                               f"by {Path(first.file).name}; this file is skipped"))
            continue
        playbooks[playbook.name] = playbook
    log.info("loaded %d playbook(s) from %s with %d problem(s)", len(playbooks), folder, len(problems))
    return playbooks, problems


def main(argv: list[str]) -> int:
    """Check the playbooks in a folder (default ./playbooks); print each problem; exit 1 if there are any."""
    playbooks, problems = load_playbooks(argv[0] if argv else "playbooks")
    for problem in problems:
        print(problem)
    print(f"{len(playbooks)} playbook(s) loaded, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))


def _postmortem_template(value) -> str:
    """A post-mortem template (Markdown with Jinja2): it must at least compile."""
    source = f.text(value)
    try:
        playbook_environment().parse(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"the template does not compile: {exc.message} (template line {exc.lineno})") from None
    return source


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value
