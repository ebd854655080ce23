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
            # Prefer the alternative whose type matched: its errors say what is really wrong.
            typed = [e for e in error.context if e.validator != "type"]
            if typed:
                yield from _leaf_errors(iter(typed))
                continue
        yield error


def _path_words(path: tuple[Any, ...]) -> str:
    if len(path) >= 2 and path[0] == "steps":
        rest = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[2:])
        return f"step {path[1]!r}" + (f" {rest.lstrip('.')}" if rest else "")
    return ".".join(str(p) for p in path) or "the file"


def _describe(error: ValidationError) -> tuple[str, str | None]:
    where = _path_words(tuple(error.absolute_path))
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
            "^[a-z_][a-z0-9_]*$": "lower-case letters, digits and _",
            "^[a-z]{2}$": "a two-letter language code such as es or en",
        }.get(str(error.validator_value), f"the pattern {error.validator_value}")
        return f"{error.instance!r} in {where} is not valid: expected {shape}", None
    if error.validator == "type":
        expected = error.validator_value
        expected_words = " or ".join(expected) if isinstance(expected, list) else str(expected)
        got = type(error.instance).__name__.replace("dict", "mapping").replace("list", "list")
        return f"{where} must be {expected_words}, not {got}", None
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
    for error in _leaf_errors(validator(schema_name).iter_errors(doc.data)):
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
            found.append((doc.at(path), *_describe(error)))
        for mark, text, advice in found:
            if (mark.line, mark.col, text) not in seen:
                seen.add((mark.line, mark.col, text))
                problems.append(Problem(file, mark.line, mark.col, text, "error", advice))
    return problems
