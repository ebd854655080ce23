"""YAML with YAML 1.2 core-schema semantics and a position for every node.

PyYAML implements YAML 1.1, where `yes`, `no`, `on` and `off` are booleans: a flow's
`on: {found: ...}` would become `{True: ...}`. We compose the node graph with PyYAML and
resolve scalars ourselves with the 1.2 core schema, keeping each node's line and column so
that every later problem (schema, semantics, tests) can point at the exact spot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

# Aliases can make a tiny file expand into a huge tree ("billion laughs"); flows are small.
MAX_NODES = 200_000
# Flows nest a handful of levels. libyaml's composer recurses in C, so a file of 50,000 `[`
# would overflow the C stack and kill the process: the depth is checked on the events first.
MAX_DEPTH = 64

# What YAML counts as a line break, so that our line numbers agree with the parser's.
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Python refuses to convert longer decimal texts to int (sys.get_int_max_str_digits()).
_MAX_INT_DIGITS = 4_300


# The tag we give untagged plain scalars, so that `!!str 12` (explicitly a string) can be told
# apart from a plain `12` (an int under the 1.2 core schema): both would otherwise get !!str.
_PLAIN = "tag:centralita,2026:plain"


class _ComposeLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Only composes nodes; scalar resolution is ours, so PyYAML's 1.1 resolvers are dropped."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


class YamlError(Exception):
    """The text is not YAML we can read; carries a 1-based position."""

    def __init__(self, message: str, line: int, col: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.hint = hint


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Document:
    """A loaded YAML document: plain Python data plus positions by path."""

    data: Any
    values: dict[Path, Mark]  # where the value at a path starts
    keys: dict[Path, Mark]  # where the key of a mapping entry starts
    # Repeated keys: (path, where the repeat is, where the kept first one is).
    duplicates: list[tuple[Path, Mark, Mark]] = field(default_factory=list)
    # Literal block scalars (`|`): where their first content line starts. Line n of such a
    # value is on line `first.line + n - 1` of the file; no other scalar style maps 1:1.
    blocks: dict[Path, Mark] = field(default_factory=dict)

    def at(self, path: Path) -> Mark:
        """The closest known position for a path (walking up when a node has none)."""
        probe = tuple(path)
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Mark(1, 1))

    def key_at(self, path: Path) -> Mark:
        return self.keys.get(tuple(path)) or self.at(path)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


def resolve_scalar(node: yaml.ScalarNode) -> Any:
    """YAML 1.2 core schema: null, true/false, ints, floats; everything else is a string."""
    value: str = node.value
    if node.tag == _STR:  # quoted and block scalars, and an explicit !!str
        return value
    if node.tag != _PLAIN:  # an explicit tag such as !!int
        return _explicit_tag(node)
    if value in ("", "~", "null", "Null", "NULL"):
        return None
    if value in ("true", "True", "TRUE"):
        return True
    if value in ("false", "False", "FALSE"):
        return False
    if _INT.match(value):
        try:
            return int(value)
        except ValueError:  # more digits than Python converts (4,300): keep the text as written
            return value
    if _OCT.match(value):
        return int(value[2:], 8)
    if _HEX.match(value):
        return int(value[2:], 16)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return float("-inf") if value.startswith("-") else float("inf")
    if _NAN.match(value):
        return float("nan")
    return value


def _explicit_tag(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    value = node.value
    try:
        if tag == "tag:yaml.org,2002:int":
            if len(value) > _MAX_INT_DIGITS:
                mark = _mark(node)
                raise YamlError(
                    f"integer with {len(value):,} digits: the limit is {_MAX_INT_DIGITS:,}",
                    mark.line,
                    mark.col,
                )
            return int(value, 0)
        if tag == "tag:yaml.org,2002:float":
            return float(value)
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() == "true"
        if tag == "tag:yaml.org,2002:null":
            return None
    except ValueError as exc:
        mark = _mark(node)
        kind = tag.rsplit(":", 1)[-1]
        raise YamlError(f"{value!r} is not a valid {kind}", mark.line, mark.col) from exc
    mark = _mark(node)
    raise YamlError(
        f"unsupported YAML tag {tag!r}",
        mark.line,
        mark.col,
        hint="flows use plain YAML: remove the tag",
    )


class _Builder:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.blocks: dict[Path, Mark] = {}
        self.values: dict[Path, Mark] = {}
        self.keys: dict[Path, Mark] = {}
        self.count = 0
        self.active: set[int] = set()
        self.duplicates: list[tuple[Path, Mark, Mark]] = []

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            mark = _mark(node)
            raise YamlError(
                f"document expands to more than {MAX_NODES} nodes",
                mark.line,
                mark.col,
                hint="aliases (*name) multiply content; write the repeated parts out",
            )
        if len(path) > MAX_DEPTH:  # aliases can nest deeper than the text shows
            mark = _mark(node)
            raise YamlError(f"the YAML nests deeper than {MAX_DEPTH} levels", mark.line, mark.col)
        self.values[path] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            if node.style == "|":
                self.blocks[path] = self._block_start(node)
            return resolve_scalar(node)
        if node.tag not in (_SEQ, _MAP):
            # Tags on mappings and lists (!!set, !!python/...) are as foreign as on scalars.
            mark = _mark(node)
            raise YamlError(
                f"unsupported YAML tag {node.tag!r}",
                mark.line,
                mark.col,
                hint="flows use plain YAML: remove the tag",
            )
        if id(node) in self.active:
            mark = _mark(node)
            raise YamlError("recursive alias: a node contains itself", mark.line, mark.col)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        mark = _mark(node)  # pragma: no cover - PyYAML only makes the three node kinds
        raise YamlError("unsupported YAML node", mark.line, mark.col)

    def _block_start(self, node: yaml.ScalarNode) -> Mark:
        """Where line 1 of a literal block's value is: the line after the `|` indicator (a
        leading blank line is part of the value), at the block's indentation, which its first
        line with text sets."""
        line = node.start_mark.line + 2  # the line after the `|` indicator
        for text in self.lines[line - 1 :]:
            if text.strip():
                return Mark(line, len(text) - len(text.lstrip(" ")) + 1)
        return Mark(line, node.start_mark.column + 1)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_mark = _mark(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("a mapping key must be a plain value", key_mark.line, key_mark.col)
            key = resolve_scalar(key_node)
            if key_node.value == "<<" and key_node.style in (None, ""):
                raise YamlError(
                    "merge keys (<<) are not part of YAML 1.2",
                    key_mark.line,
                    key_mark.col,
                    hint="write the keys out, or use the flow's settings: for shared defaults",
                )
            if isinstance(key, float) or key is None or isinstance(key, bool):
                key = key_node.value  # keys are names: `1.5`, `null`, `true` keep their spelling
            key = str(key)
            if key in result:
                # Keep the first and go on, so one run reports every problem of the file.
                first = self.keys[(*path, key)]
                self.duplicates.append(((*path, key), key_mark, first))
                continue
            self.keys[(*path, key)] = key_mark
            result[key] = self.build(value_node, (*path, key))
        return result


def load(text: str) -> Document:
    """Parse one YAML document. Raises YamlError with a position for anything unreadable."""
    try:
        _check_depth(text)
        node = yaml.compose(text, Loader=_ComposeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _within(text, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        lines = text.splitlines()
        bad_line = lines[line - 1] if 0 < line <= len(lines) else ""
        hint = "indent with spaces, not tabs" if "\t" in bad_line else _yaml_hint(problem)
        raise YamlError(problem, line, col, hint=hint) from exc
    except yaml.reader.ReaderError as exc:
        # A character YAML forbids (NUL, other control characters): point at it.
        line, col = _reader_position(text, exc.position)
        raise YamlError(
            f"invalid YAML: character {exc.character!r} is not allowed ({exc.reason})",
            line,
            col,
            hint="remove the control character; an editor may show it as a box or ^@",
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}", 1, 1) from exc
    if node is None:
        return Document(None, {(): Mark(1, 1)}, {})
    builder = _Builder(_LINE_BREAK.split(text))
    data = builder.build(node, ())
    return Document(data, builder.values, builder.keys, builder.duplicates, builder.blocks)


def _check_depth(text: str) -> None:
    """Refuse documents nested deeper than MAX_DEPTH before composing them (the event parser
    keeps its own stack, so it is safe on any input; stopping early keeps it fast)."""
    depth = 0
    for event in yaml.parse(text, Loader=_ComposeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line, col = _within(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
                raise YamlError(
                    f"the YAML nests deeper than {MAX_DEPTH} levels",
                    line,
                    col,
                    hint="flows need only a few levels: check the brackets and indentation",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _within(text: str, line: int, col: int) -> tuple[int, int]:
    """Clamp a position to the text: libyaml puts an unexpected end of file on the line after
    the last one, even when the text does not end with a newline."""
    lines = _LINE_BREAK.split(text)
    if line > len(lines):
        line, col = len(lines), len(lines[-1]) + 1
    return max(line, 1), max(min(col, len(lines[line - 1]) + 1), 1)


def _reader_position(text: str, position: int) -> tuple[int, int]:
    """Line and column of a reader error; libyaml counts UTF-8 bytes, PyYAML characters."""
    if _BaseLoader is not yaml.SafeLoader:
        position = len(text.encode("utf-8")[:position].decode("utf-8", errors="ignore"))
    before = _LINE_BREAK.split(text[:position])
    return _within(text, len(before), len(before[-1]) + 1)


def _yaml_hint(problem: str) -> str | None:
    if "mapping values are not allowed" in problem:
        return "quote texts that contain ': ' (a colon followed by a space)"
    if "expected <block end>" in problem or "expected a comment or a line break" in problem:
        return "check the indentation of this line against the lines above it"
    if "found character '%' that cannot start any token" in problem or "'{'" in problem:
        return "quote values that start with { or %, such as templates"
    return None


def walk_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string inside a loaded value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk_strings(item, (*path, i))
