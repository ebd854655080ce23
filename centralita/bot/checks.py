"""Semantic checks of one flow file: what JSON Schema cannot see.

Unknown step targets, unreachable steps, loops that never wait for the customer, bad regexes,
durations, templates and conditions, undefined messages, languages. The checks are written to
survive any shape of input, so a file with schema errors still gets its other problems
reported in the same run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jinja2.exceptions import TemplateError, TemplateSyntaxError

from centralita.bot.durations import DurationError, parse_duration
from centralita.bot.model import RETURN
from centralita.bot.problems import Problem, Severity
from centralita.bot.templates import (
    CONTEXT_NAMES,
    GLOBAL_NAMES,
    compile_expression,
    compile_template,
    filter_names,
    has_syntax,
    parse_expression,
    parse_template,
    references,
)
from centralita.bot.yamlsrc import Document, Mark, Path

MESSAGE_KEY = re.compile(r"[a-z][a-z0-9_]*\Z")
DURATION_SHAPE = re.compile(r"[0-9]+[smhd]\Z")
WAITING_TYPES = frozenset({"ask", "menu"})
TERMINAL_TYPES = frozenset({"handoff", "end"})
TEXT_KEYS = ("text",)


def is_message_key(text: str) -> bool:
    """A lone snake_case word names a catalog message; real sentences have spaces or capitals."""
    return bool(MESSAGE_KEY.match(text))


@dataclass
class FlowFacts:
    """What the set-level checks (calls, slots) need to know about one flow file."""

    flow_id: str | None = None
    calls: list[tuple[str, Path]] = field(default_factory=list)
    slots_set: set[str] = field(default_factory=set)
    slots_read: list[tuple[str, Path]] = field(default_factory=list)
    returns_from: list[str] = field(default_factory=list)  # steps that fall off the end


class FlowChecker:
    def __init__(self, doc: Document, file: str) -> None:
        self.doc = doc
        self.file = file
        self.data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        raw_steps = self.data.get("steps")
        self.steps: dict[str, Any] = raw_steps if isinstance(raw_steps, dict) else {}
        self.order = list(self.steps)
        self.position = {sid: i for i, sid in enumerate(self.order)}
        messages = self.data.get("messages")
        self.messages: dict[str, Any] = messages if isinstance(messages, dict) else {}
        language = self.data.get("language", "es")
        self.language = language if isinstance(language, str) else "es"
        languages = self.data.get("languages")
        self.languages = (
            [lang for lang in languages if isinstance(lang, str)]
            if isinstance(languages, list)
            else [self.language]
        )
        self.problems: list[Problem] = []
        self.facts = FlowFacts(
            flow_id=self.data.get("flow") if isinstance(self.data.get("flow"), str) else None
        )

    # -- reporting ---------------------------------------------------------------------------

    def report(
        self,
        path: Path,
        message: str,
        hint: str | None = None,
        severity: Severity = "error",
        *,
        at_key: bool = False,
        mark: Mark | None = None,
    ) -> None:
        if mark is None:
            mark = self.doc.key_at(path) if at_key else self.doc.at(path)
        self.problems.append(Problem(self.file, mark.line, mark.col, message, severity, hint))

    def run(self) -> tuple[list[Problem], FlowFacts]:
        for path, repeat, first in self.doc.duplicates:
            what = "step id" if len(path) == 2 and path[0] == "steps" else "key"
            self.problems.append(
                Problem(
                    self.file,
                    repeat.line,
                    repeat.col,
                    f"duplicate {what} {path[-1]!r} (first defined at line {first.line})",
                    "error",
                    "ids must be unique: rename one of them",
                )
            )
        self.check_languages()
        self.check_messages()
        self.check_settings()
        self.check_start()
        for step_id, step in self.steps.items():
            if isinstance(step, dict):
                self.check_step(step_id, step)
        self.check_reachability()
        self.check_waitless_loops()
        return self.problems, self.facts

    # -- helpers -----------------------------------------------------------------------------

    def fallthrough(self, step_id: str) -> str:
        index = self.position[step_id]
        return self.order[index + 1] if index + 1 < len(self.order) else RETURN

    def target(self, path: Path, value: Any, what: str) -> None:
        if not isinstance(value, str) or value in self.steps:
            return
        close = difflib.get_close_matches(value, self.order, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "name a step defined under steps:"
        self.report(path, f"{what} names unknown step {value!r}", hint)

    def template(self, path: Path, source: Any, *, expression: bool = False) -> None:
        if isinstance(source, bool) and expression:
            return
        if not isinstance(source, str):
            return
        kind = "condition" if expression else "template"
        if not expression and not has_syntax(source):
            try:  # a constant text: nothing to parse, only its length to check
                compile_template(source)
            except TemplateError as exc:
                self.report(path, f"invalid {kind}: {exc}")
            return
        try:
            tree = parse_expression(source) if expression else parse_template(source)
            if expression:
                compile_expression(source)
            else:
                compile_template(source)
            refs = references(tree)
        except TemplateSyntaxError as exc:
            self.report(
                path,
                f"invalid {kind}: {exc.message}",
                _template_hint(exc.message or ""),
                mark=self.template_line(path, source, exc.lineno),
            )
            return
        except TemplateError as exc:
            self.report(
                path,
                f"invalid {kind}: {exc}",
                _template_hint(str(exc)),
                mark=self.template_line(path, source, getattr(exc, "lineno", None)),
            )
            return
        except RecursionError:  # the templates module turns these into limits; belt and braces
            self.report(path, f"invalid {kind}: {kind} too deeply nested")
            return
        except MemoryError:
            self.report(path, f"invalid {kind}: {kind} too large")
            return
        known = CONTEXT_NAMES | GLOBAL_NAMES
        for name in sorted(refs.names - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "known names: "
                + ", ".join(sorted(CONTEXT_NAMES))
                + "; and "
                + ", ".join(sorted(GLOBAL_NAMES))
            )
            self.report(
                path,
                f"unknown name {name!r} in {kind}",
                hint,
                mark=self.template_line(path, source, refs.lines.get(name)),
            )
        for slot in sorted(refs.slots):
            self.facts.slots_read.append((slot, path))

    def template_line(self, path: Path, source: str, lineno: int | None) -> Mark | None:
        """Where line `lineno` of a template is in the file. Only literal blocks (`|`) keep
        the template's lines as they are; a quoted or folded text may span fewer lines of
        the file than it has, so its problems are put at its start."""
        block = self.doc.blocks.get(path)
        if block is None or not lineno:
            return None
        # An unexpected end is reported past the final newline: keep it on the last line.
        lineno = min(lineno, source.rstrip("\n").count("\n") + 1)
        return Mark(block.line + lineno - 1, block.col)

    def text(self, path: Path, value: Any) -> None:
        """A text: a template, a catalog key, or {language: template}."""
        if isinstance(value, str):
            if is_message_key(value):
                if value not in self.messages:
                    close = difflib.get_close_matches(value, list(self.messages), n=1)
                    hint = (
                        f"did you mean {close[0]!r}?"
                        if close
                        else "define it under messages:, or write the text as a sentence"
                    )
                    self.report(path, f"undefined message {value!r}", hint)
                return
            self.template(path, value)
        elif isinstance(value, dict):
            self.variants(path, value)

    def variants(self, path: Path, value: dict[str, Any]) -> None:
        for lang, variant in value.items():
            if lang not in self.languages:
                self.report(
                    (*path, lang),
                    f"text in language {lang!r}, which the flow does not declare",
                    f"add it to languages: {[*self.languages, lang]}",
                    at_key=True,
                )
            self.template((*path, lang), variant)
        if self.language not in value:
            self.report(path, f"text has no variant in the flow's language {self.language!r}")
        for lang in self.languages:
            if lang != self.language and lang not in value:
                self.report(
                    path,
                    f"text has no {lang!r} variant: {self.language!r} will be used",
                    None,
                    "warning",
                )

    def duration(self, path: Path, value: Any) -> None:
        # A malformed duration is already the schema's problem; only say what it cannot: 0m.
        if isinstance(value, str) and DURATION_SHAPE.match(value):
            try:
                parse_duration(value)
            except DurationError as exc:
                self.report(path, str(exc))

    def timeout(self, path: Path, value: Any) -> None:
        if not isinstance(value, dict):
            return
        self.duration((*path, "after"), value.get("after"))
        if "remind" in value:
            self.text((*path, "remind"), value["remind"])
        if "then" in value:
            self.target((*path, "then"), value["then"], "timeout then")

    def invalid(self, path: Path, value: Any) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.text((*path, i), item)
        else:
            self.text(path, value)

    # -- file-level checks -------------------------------------------------------------------

    def check_languages(self) -> None:
        if "languages" in self.data and self.language not in self.languages:
            self.report(
                ("language",) if "language" in self.data else ("languages",),
                f"the flow's language {self.language!r} is not among its languages "
                f"{self.languages}",
            )

    def check_messages(self) -> None:
        for key, value in self.messages.items():
            if isinstance(value, str):
                self.template(("messages", key), value)
            elif isinstance(value, dict):
                self.variants(("messages", key), value)

    def check_settings(self) -> None:
        settings = self.data.get("settings")
        if isinstance(settings, dict):
            self.timeout(("settings", "timeout"), settings.get("timeout"))
            if "invalid" in settings:
                self.invalid(("settings", "invalid"), settings["invalid"])

    def check_start(self) -> None:
        self.target(("start",), self.data.get("start"), "start")

    # -- step checks -------------------------------------------------------------------------

    def check_step(self, sid: str, step: dict[str, Any]) -> None:
        base: Path = ("steps", sid)
        kind = _kind(step)
        if "next" in step:
            self.target((*base, "next"), step["next"], "next")
        for key in ("text", "remind"):
            if key in step:
                self.text((*base, key), step[key])
        if "invalid" in step:
            self.invalid((*base, "invalid"), step["invalid"])
        if "on_exhausted" in step:
            self.target((*base, "on_exhausted"), step["on_exhausted"], "on_exhausted")
        if "timeout" in step:
            self.timeout((*base, "timeout"), step["timeout"])
        if kind in ("say",) and "text" not in step and "media" not in step:
            self.report(base, f"say step {sid!r} has neither text nor media", at_key=True)
        if "media" in step:
            self.template((*base, "media"), step["media"])
        if kind == "ask":
            self.check_ask(base, step)
        elif kind == "menu":
            self.check_menu(sid, base, step)
        elif kind == "branch":
            self.check_branch(base, step)
        elif kind == "set":
            self.check_set(base, step)
        elif kind == "lookup":
            self.check_lookup(base, step)
        elif kind == "flow" and isinstance(step.get("flow"), str):
            self.facts.calls.append((step["flow"], (*base, "flow")))

    def check_ask(self, base: Path, step: dict[str, Any]) -> None:
        if isinstance(step.get("slot"), str):
            self.facts.slots_set.add(step["slot"])
        rules = step.get("validate")
        if not isinstance(rules, dict):
            return
        if isinstance(rules.get("pattern"), str):
            try:
                re.compile(rules["pattern"])
            except re.error as exc:
                self.report((*base, "validate", "pattern"), f"invalid regular expression: {exc}")
        kind = rules.get("type", "text")
        for bound in ("min", "max"):
            value = rules.get(bound)
            if value is None:
                continue
            if kind in ("integer", "number") and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                self.report((*base, "validate", bound), f"{bound} must be a number for type {kind}")
            elif kind == "date" and not (
                isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
            ):
                self.report(
                    (*base, "validate", bound),
                    f"{bound} must be a date written YYYY-MM-DD for type date",
                )
            elif kind not in ("integer", "number", "date"):
                self.report(
                    (*base, "validate", bound),
                    f"{bound} applies to integer, number and date replies",
                    "use min_length / max_length for the length of a text",
                )
        low, high = rules.get("min"), rules.get("max")
        if isinstance(low, int | float | str) and type(low) is type(high) and low > high:  # type: ignore[operator]
            self.report((*base, "validate", "max"), f"max {high!r} is below min {low!r}")
        low_len, high_len = rules.get("min_length"), rules.get("max_length")
        if isinstance(low_len, int) and isinstance(high_len, int) and low_len > high_len:
            self.report(
                (*base, "validate", "max_length"),
                f"max_length {high_len} is below min_length {low_len}",
            )

    def check_menu(self, sid: str, base: Path, step: dict[str, Any]) -> None:
        options = step.get("options")
        has_from = "options_from" in step
        if isinstance(step.get("slot"), str):
            self.facts.slots_set.add(step["slot"])
        if (options is None) == (not has_from):
            self.report(
                base,
                f"menu {sid!r} needs exactly one of options or options_from",
                at_key=True,
            )
        if not isinstance(options, list):
            return
        seen_keys: dict[str, int] = {}
        seen_words: dict[str, int] = {}
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            path = (*base, "options", i)
            key = str(option.get("key", i + 1))
            if key.casefold() in seen_keys:
                self.report(
                    (*path, "key") if "key" in option else path,
                    f"menu option key {key!r} is used twice",
                )
            seen_keys[key.casefold()] = i
            if "label" in option:
                self.text((*path, "label"), option["label"])
            if "next" in option:
                self.target((*path, "next"), option["next"], "option next")
            for j, word in enumerate(
                option.get("match", []) if isinstance(option.get("match"), list) else []
            ):
                if not isinstance(word, str):
                    continue
                folded = word.casefold()
                if folded in seen_words and seen_words[folded] != i:
                    self.report(
                        (*path, "match", j),
                        f"match word {word!r} also picks option {seen_words[folded] + 1}",
                        "a reply with this word would be ambiguous and count as invalid",
                        "warning",
                    )
                seen_words[folded] = i

    def check_branch(self, base: Path, step: dict[str, Any]) -> None:
        branches = step.get("branches")
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                if isinstance(branch, dict):
                    self.template((*base, "branches", i, "if"), branch.get("if"), expression=True)
                    self.target((*base, "branches", i, "then"), branch.get("then"), "then")
        self.target((*base, "else"), step.get("else"), "else")

    def check_set(self, base: Path, step: dict[str, Any]) -> None:
        values = step.get("values")
        if not isinstance(values, dict):
            return
        for slot, value in values.items():
            self.facts.slots_set.add(slot)
            if isinstance(value, str):
                self.template((*base, "values", slot), value)

    def check_lookup(self, base: Path, step: dict[str, Any]) -> None:
        self.template((*base, "document"), step.get("document"))
        outcomes = step.get("on")
        if isinstance(outcomes, dict):
            for outcome, target in outcomes.items():
                self.target((*base, "on", outcome), target, f"on {outcome}")

    # -- graph checks ------------------------------------------------------------------------

    def successors(self, sid: str) -> Iterator[str]:
        step = self.steps.get(sid)
        if not isinstance(step, dict):
            return
        kind = _kind(step)
        if kind in TERMINAL_TYPES:
            return
        explicit = step.get("next")
        after = explicit if isinstance(explicit, str) else self.fallthrough(sid)
        if kind == "branch":
            for branch in step.get("branches") or []:
                if isinstance(branch, dict) and isinstance(branch.get("then"), str):
                    yield str(branch["then"])
            if isinstance(step.get("else"), str):
                yield str(step["else"])
            return
        if kind == "lookup":
            outcomes = step.get("on")
            for outcome in ("found", "not_found", "ambiguous", "error"):
                target = outcomes.get(outcome) if isinstance(outcomes, dict) else None
                yield target if isinstance(target, str) else self.fallthrough(sid)
            return
        if kind == "menu" and isinstance(step.get("options"), list):
            for option in step["options"]:
                if isinstance(option, dict):
                    target = option.get("next")
                    yield target if isinstance(target, str) else after
        else:
            yield after
        if kind in WAITING_TYPES:
            if isinstance(step.get("on_exhausted"), str):
                yield step["on_exhausted"]
            timeout = step.get("timeout")
            settings = (
                self.data.get("settings") if isinstance(self.data.get("settings"), dict) else {}
            )
            if not isinstance(timeout, dict):
                timeout = settings.get("timeout") if isinstance(settings, dict) else None
            if isinstance(timeout, dict) and isinstance(timeout.get("then"), str):
                yield timeout["then"]

    def check_reachability(self) -> None:
        start = self.data.get("start")
        if not isinstance(start, str) or start not in self.steps:
            return
        seen = {start}
        todo = [start]
        while todo:
            sid = todo.pop()
            for nxt in self.successors(sid):
                if nxt == RETURN:
                    self.facts.returns_from.append(sid)
                elif nxt in self.steps and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for sid in self.order:
            if sid not in seen:
                self.report(
                    ("steps", sid),
                    f"step {sid!r} is unreachable from start {start!r}",
                    "point a next, option or branch at it, or delete it",
                    "warning",
                    at_key=True,
                )

    def check_waitless_loops(self) -> None:
        """A cycle of steps none of which waits would spin forever on one message."""
        moving = {
            sid
            for sid, step in self.steps.items()
            if isinstance(step, dict) and step.get("type") in ("say", "set", "branch", "lookup")
        }
        graph = {sid: [n for n in self.successors(sid) if n in moving] for sid in moving}
        reported: set[frozenset[str]] = set()
        for cycle in _cycles(graph, self.position):
            members = frozenset(cycle)
            if members in reported:
                continue
            reported.add(members)
            loop = " -> ".join([*cycle, cycle[0]])
            self.report(
                ("steps", cycle[0]),
                f"steps loop without waiting for the customer: {loop}",
                "put an ask or menu in the loop, or leave it with a branch",
                at_key=True,
            )


def _kind(step: dict[str, Any]) -> str | None:
    """A step's type when it is a string; the schema reports any other value, and a list or a
    mapping must not crash the set lookups below."""
    kind = step.get("type")
    return kind if isinstance(kind, str) else None


def _cycles(graph: dict[str, list[str]], position: dict[str, int]) -> Iterator[list[str]]:
    """One cycle per strongly connected group (Kosaraju, iterative), listed in file order."""
    finished: list[str] = []
    seen: set[str] = set()
    for root in graph:
        if root in seen:
            continue
        seen.add(root)
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(graph[child])))
                    break
            else:
                stack.pop()
                finished.append(node)
    reverse: dict[str, list[str]] = {node: [] for node in graph}
    for node, targets in graph.items():
        for target in targets:
            reverse[target].append(node)
    assigned: set[str] = set()
    for root in reversed(finished):
        if root in assigned:
            continue
        group, todo = [], [root]
        assigned.add(root)
        while todo:
            node = todo.pop()
            group.append(node)
            for parent in reverse[node]:
                if parent not in assigned:
                    assigned.add(parent)
                    todo.append(parent)
        if len(group) > 1 or root in graph[root]:
            yield sorted(group, key=position.__getitem__)


def _template_hint(message: str) -> str | None:
    unknown_filter = re.search(r"no filter named '([^']*)'", message, re.IGNORECASE)
    if unknown_filter:
        names = filter_names()
        close = difflib.get_close_matches(unknown_filter.group(1), names, n=1)
        if close:
            return f"did you mean {close[0]!r}?"
        return "filters available: " + ", ".join(names[:12]) + ", ..."
    if "unexpected end of template" in message or "unexpected '}'" in message:
        return "check that every {{ has its }} and every {% if %} its {% endif %}"
    return None
