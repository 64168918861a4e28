"""Load YAML while remembering where each value came from, so errors can name file:line:col."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Location:
    """A place in a source file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class YamlSourceError(Exception):
    """The file is not valid YAML (or not readable); the message says where."""

    def __init__(self, location: Location, message: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


Path_ = tuple[Any, ...]
MAX_NODES = 100_000


@dataclass(frozen=True)
class YamlDocument:
    """Plain Python data plus the location of every mapping key and value, by path."""

    data: Any
    locations: dict[Path_, Location]
    file: str

    def where(self, path: Path_) -> Location:
        """The location of `path`, or of its closest ancestor that has one."""
        while path not in self.locations and path:
            path = path[:-1]
        return self.locations.get(path, Location(self.file, 1, 1))


class _SafeComposer(yaml.SafeLoader):
    """A safe loader that refuses aliases, so a 'billion laughs' document cannot blow up memory."""

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _location(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _to_python(file: str, node: yaml.Node, path: Path_, locations: dict[Path_, Location], budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlSourceError(_location(file, node), "document is too large")
    locations[path] = _location(file, node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_python(file, key_node, path + ("<key>",), {}, budget)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YamlSourceError(_location(file, key_node), "mapping keys must be plain values")
            if key in result:
                raise YamlSourceError(_location(file, key_node), f"duplicate key {key!r}")
            result[key] = _to_python(file, value_node, path + (key,), locations, budget)
            locations[path + (key,)] = _location(file, key_node)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(file, item, path + (i,), locations, budget) for i, item in enumerate(node.value)]
    try:
        return _SafeComposer.construct_object(_SCALAR_CONSTRUCTOR, node, deep=True)
    except ValueError as exc:   # a value YAML recognises but cannot build, like the date 2026-13-01
        raise YamlSourceError(_location(file, node), f"{node.value!r} cannot be read: {exc}") from None


class _ScalarConstructor(yaml.SafeLoader):
    def __init__(self):  # no stream: only used to construct scalars
        yaml.constructor.SafeConstructor.__init__(self)


_SCALAR_CONSTRUCTOR = _ScalarConstructor()


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document, refusing aliases, duplicate keys and oversized documents."""
    loader = _SafeComposer(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        raise YamlSourceError(where, exc.problem or str(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(Location(file, 1, 1), str(exc)) from None
    finally:
        loader.dispose()
    locations: dict[Path_, Location] = {}
    if node is None:
        return YamlDocument(None, locations, file)
    try:
        data = _to_python(file, node, (), locations, [MAX_NODES])
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        raise YamlSourceError(where, exc.problem or str(exc)) from None
    return YamlDocument(data, locations, file)


def load_yaml_file(path: Path) -> YamlDocument:
    """Read and parse a YAML file; unreadable files raise YamlSourceError too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSourceError(Location(str(path), 1, 1), f"cannot read file: {exc}") from None
    return parse_yaml(text, str(path))
