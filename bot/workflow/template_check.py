"""Check playbook templates at load time: they compile, use only the documented names, and render on sample data."""
from __future__ import annotations

import difflib
import re
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Callable, Iterable

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

# The names templates can use, and their attributes. OPEN: any key (labels); ANY: an object with its own
# methods (a string, a datetime), not checked further.
OPEN = "open"
ANY = "any"
_CHOICE = {"value": ANY, "label": ANY}
CONTEXT_FIELDS: dict[str, Any] = {
    "incident": {"id": ANY, "key": ANY, "title": ANY, "severity": _CHOICE, "status": _CHOICE,
                 "channel_name": ANY, "created_at": ANY},
    "alert": {"name": ANY, "labels": OPEN, "annotations": OPEN, "summary": ANY, "link": ANY,
              "severity": ANY, "status": ANY},
    "people": {"commander": ANY, "reporter": ANY},
    "now": ANY,
}
WELCOME_FIELDS: dict[str, Any] = {**CONTEXT_FIELDS, "user": {"username": ANY}}

_SAMPLE_TIME = datetime(2026, 1, 7, 12, 0, tzinfo=timezone.utc)


class _AnyKey(dict):
    """A label map where every key has a sample value, so `alert.labels.namespace` renders."""

    def __missing__(self, key: Any) -> str:
        return f"sample-{key}"

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key]


def sample_context(with_user: bool = False) -> dict[str, Any]:
    """Values shaped like the engine's template context, for a trial render."""
    context: dict[str, Any] = {
        "incident": SimpleNamespace(
            id=42, key="INC-42", title="Checkout API returns 500s",
            severity=SimpleNamespace(value="sev2", label="SEV2"),
            status=SimpleNamespace(value="open", label="Open"),
            channel_name="inc-42-checkout-api-returns-500s", created_at=_SAMPLE_TIME),
        "alert": SimpleNamespace(
            name="HighErrorRate", labels=_AnyKey(alertname="HighErrorRate", severity="critical"),
            annotations=_AnyKey(summary="5xx above 5%"), summary="5xx above 5%",
            link="https://alerts.example.com/42", severity="critical", status="firing"),
        "people": SimpleNamespace(commander="alice", reporter="bob"),
        "now": _SAMPLE_TIME,
    }
    if with_user:
        context["user"] = SimpleNamespace(username="carol")
    return context


def playbook_environment() -> SandboxedEnvironment:
    """The Jinja environment playbook templates are checked with; the engine should render with the same."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateChecker:
    """Compile, inspect and trial-render templates; each check returns error messages (empty when fine)."""

    def __init__(self, env: SandboxedEnvironment | None = None, *, fields: dict[str, Any] | None = None,
                 sample: Callable[[], dict[str, Any]] | None = None):
        """`fields` and `sample` replace the playbook names (for templates that see other data, like commands)."""
        self.env = env or playbook_environment()
        self.fields = fields
        self.sample = sample

    def template(self, source: str, *, welcome: bool = False) -> list[str]:
        """Check a template such as 'Hello {{ incident.key }}'."""
        multiline = "\n" in source.strip()
        try:
            ast = self.env.parse(source)
            compiled = self.env.from_string(source)
        except TemplateSyntaxError as exc:
            return [f"template does not compile: {self._explain(exc)}{_line(exc.lineno, multiline)}"]
        fields = self.fields or (WELCOME_FIELDS if welcome else CONTEXT_FIELDS)
        errors = _name_errors(ast, fields, multiline)
        if errors:
            return errors
        try:
            compiled.render(self.sample() if self.sample else sample_context(welcome))
        except TemplateError as exc:
            return [f"template fails on sample data: {self._explain(exc)}"]
        except Exception as exc:  # noqa: BLE001 - any failure of user code is a problem to report
            return [f"template fails on sample data: {type(exc).__name__}: {exc}"]
        return []

    def expression(self, source: str) -> list[str]:
        """Check a `when` expression such as "incident.severity.value == 'sev1'"."""
        try:
            self.env.compile_expression(source)
            parser = Parser(self.env, source, state="variable")
            expr = parser.parse_expression()
        except TemplateSyntaxError as exc:
            return [f"expression does not compile: {self._explain(exc)}"]
        ast = nodes.Template([nodes.Output([expr])]).set_environment(self.env)
        errors = _name_errors(ast, CONTEXT_FIELDS, False)
        if errors:
            return errors
        try:
            self.env.compile_expression(source, undefined_to_none=False)(**sample_context())
        except TemplateError as exc:
            return [f"expression fails on sample data: {self._explain(exc)}"]
        except Exception as exc:  # noqa: BLE001
            return [f"expression fails on sample data: {type(exc).__name__}: {exc}"]
        return []

    def _explain(self, exc: TemplateError) -> str:
        """The compiler's message, with a suggestion for a misspelt filter or test."""
        message = (exc.message or str(exc)).rstrip(".")
        found = re.fullmatch(r"No (filter|test) named '([^']+)'(?: found)?", message)
        if found:
            known = self.env.filters if found.group(1) == "filter" else self.env.tests
            message += _did_you_mean(found.group(2), known)
        return message


def _line(lineno: int | None, multiline: bool) -> str:
    return f" (template line {lineno})" if multiline and lineno else ""


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _name_errors(ast: nodes.Template, fields: dict[str, Any], multiline: bool) -> list[str]:
    errors: list[str] = []
    # Jinja counts a name set inside an {% if %} branch as undeclared; a name set anywhere is the author's own.
    assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx != "load"}
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name in fields or name in assigned:
            continue
        if name == "user":
            errors.append("'user' is only available in `welcome`")
        else:
            errors.append(f"unknown name {name!r}{_did_you_mean(name, fields)}"
                          f" (templates can use: {', '.join(sorted(fields))})")
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _chain(node)
        if chain is None or chain[0] in assigned or chain[0] not in fields:
            continue
        message = _attribute_error(chain, fields)
        if message and message + _line(node.lineno, multiline) not in errors:
            errors.append(message + _line(node.lineno, multiline))
    return errors


def _chain(node: nodes.Node) -> list[str] | None:
    """['incident', 'severity', 'value'] for incident.severity.value (or incident['severity']); None otherwise."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return parts[::-1]
        else:
            return None


def _attribute_error(chain: list[str], fields: dict[str, Any]) -> str:
    spec: Any = fields[chain[0]]
    for depth, attr in enumerate(chain[1:], start=1):
        if not isinstance(spec, dict):
            return ""
        if attr not in spec:
            owner = ".".join(chain[:depth])
            return (f"unknown attribute {attr!r} of {owner}{_did_you_mean(attr, spec)}"
                    f" ({owner} has: {', '.join(spec)})")
        spec = spec[attr]
    return ""
