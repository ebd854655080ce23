"""JSON Schema validation of flow and flow-test files, reported as located, readable problems."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from centralita.bot.problems import Problem
from centralita.bot.yamlsrc import Document, Mark

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _leaf_errors(errors: Iterator[ValidationError]) -> Iterator[ValidationError]:
    """Descend into oneOf/anyOf to the most specific errors, jsonschema's best_match style."""
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            # Prefer the alternative whose type matched: its errors say what is really wrong,
            # first those inside the value (`{es: 5}`: the 5), then those about the value.
            depth = len(error.absolute_path)
            inside = [e for e in error.context if len(e.absolute_path) > depth]
            typed = inside or [e for e in error.context if e.validator != "type"]
            if typed:
                yield from _leaf_errors(iter(typed))
                continue
        # No alternative fits the value's type: described by what the alternatives accept.
        yield error


_TYPE_WORDS = {
    "string": "a text",
    "object": "a mapping",
    "array": "a list",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}
# Shapes named by their $defs, in the words of docs/flow-authoring.md.
_DEF_WORDS = {"text": "a text or {language: text}", "normalizer": "a normalization name"}
_DEF_PLURALS = {"text": "texts", "normalizer": "normalization names"}


def _shape(alternative: Any, defs: dict[str, Any]) -> str:
    """What one alternative of a oneOf/anyOf accepts, in words."""
    if not isinstance(alternative, dict):
        return "something else"
    ref = alternative.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        return _DEF_WORDS.get(name) or _shape(defs.get(name), defs)
    if "const" in alternative:
        return json.dumps(alternative["const"])
    if "enum" in alternative:
        return "one of " + ", ".join(str(v) for v in alternative["enum"])
    if "oneOf" in alternative or "anyOf" in alternative:
        options = alternative.get("oneOf") or alternative.get("anyOf") or []
        return " or ".join(_shape(o, defs) for o in options)
    kind = alternative.get("type")
    if kind == "array" and isinstance(alternative.get("items"), dict):
        items = alternative["items"].get("$ref", "")
        plural = _DEF_PLURALS.get(str(items).removeprefix("#/$defs/"))
        if plural:
            return f"a list of {plural}"
    if kind == "object" and alternative.get("propertyNames", {}).get("$ref") == "#/$defs/lang":
        return "{language: text}"
    if isinstance(kind, list):
        return " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kind)
    return _TYPE_WORDS.get(str(kind), str(kind))


def _value_words(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "empty"
    words = {"str": "a text", "int": "a number", "float": "a number", "list": "a list"}
    return words.get(type(value).__name__, "a mapping" if isinstance(value, dict) else "that")


def _path_words(path: tuple[Any, ...]) -> str:
    def part(p: Any) -> str:
        if isinstance(p, int):
            return f"[{p}]"
        # A key with control characters (even a line break) is shown escaped, on one line.
        return f".{p}" if str(p).isprintable() else f"[{p!r}]"

    if len(path) >= 2 and path[0] == "steps":
        rest = "".join(part(p) for p in path[2:])
        return f"step {path[1]!r}" + (f" {rest.lstrip('.')}" if rest else "")
    return "".join(part(p) for p in path).lstrip(".") or "the file"


def _describe(error: ValidationError, defs: dict[str, Any]) -> tuple[str, str | None]:
    where = _path_words(tuple(error.absolute_path))
    if error.validator in ("oneOf", "anyOf") and isinstance(error.validator_value, list):
        shapes = [_shape(alternative, defs) for alternative in error.validator_value]
        return f"{where} must be {' or '.join(shapes)}, not {_value_words(error.instance)}", None
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else "?"
        if missing == "else":
            return f"branch {where} has no else", "add `else: STEP`, taken when no condition holds"
        return f"{where} is missing the required key {missing!r}", None
    if error.validator == "enum":
        options = [str(o) for o in error.validator_value]  # type: ignore[union-attr]
        close = difflib.get_close_matches(str(error.instance), options, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(options)}"
        what = "step type" if error.absolute_path and error.absolute_path[-1] == "type" else "value"
        return f"unknown {what} {error.instance!r} in {where}", hint
    if error.validator == "pattern":
        shape = {
            "^[0-9]+(s|m|h|d)$": "a duration such as 30s, 15m, 2h or 1d",
            "^[a-z][a-z0-9_-]*$": "lower-case letters, digits, - and _, starting with a letter",
            "^[A-Za-z_][A-Za-z0-9_-]*$": "letters, digits, - and _, not starting with a digit",
            "^(?!__)[A-Za-z_][A-Za-z0-9_-]*$": (
                "letters, digits, - and _, not starting with a digit or with __ "
                "(reserved for the engine)"
            ),
            "^[a-z_][a-z0-9_]*$": "lower-case letters, digits and _",
            "^[a-z]{2}$": "a two-letter language code such as es or en",
        }.get(str(error.validator_value), f"the pattern {error.validator_value}")
        return f"{error.instance!r} in {where} is not valid: expected {shape}", None
    if error.validator == "type":
        expected = error.validator_value
        kinds = expected if isinstance(expected, list) else [expected]
        expected_words = " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds)
        return f"{where} must be {expected_words}, not {_value_words(error.instance)}", None
    if error.validator == "const":
        return f"{where} must be {error.validator_value!r}", None
    if error.validator in ("minProperties", "minItems"):
        return f"{where} must not be empty", None
    if error.validator in ("minimum", "maximum"):
        return f"{where}: {error.message}", None
    return f"{where}: {error.message}", None


def schema_problems(doc: Document, schema_name: str, file: str) -> list[Problem]:
    """Every schema violation in the document, each at the position of the offending node."""
    problems: list[Problem] = []
    seen: set[tuple[int, int, str]] = set()
    check = validator(schema_name)
    defs = check.schema.get("$defs", {}) if isinstance(check.schema, dict) else {}
    for error in _leaf_errors(check.iter_errors(doc.data)):
        path = tuple(error.absolute_path)
        found: list[tuple[Mark, str, str | None]] = []
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            allowed = sorted(schema.get("properties", {}))
            for key in error.instance:
                if key in allowed:
                    continue
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"allowed keys: {', '.join(allowed)}"
                )
                message = f"unknown key {key!r} in {_path_words(path)}"
                found.append((doc.key_at((*path, key)), message, hint))
        else:
            found.append((doc.at(path), *_describe(error, defs)))
        for mark, text, advice in found:
            if (mark.line, mark.col, text) not in seen:
                seen.add((mark.line, mark.col, text))
                problems.append(Problem(file, mark.line, mark.col, text, "error", advice))
    return problems
