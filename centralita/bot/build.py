"""From a validated flow document to a runnable Flow: resolve defaults, compile every text once."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from centralita.bot import text as textmatch
from centralita.bot.checks import is_message_key
from centralita.bot.durations import parse_duration
from centralita.bot.inputs import Rules
from centralita.bot.model import (
    FALLBACK_HANDOFF,
    RETURN,
    Ask,
    Branch,
    CallFlow,
    End,
    Flow,
    HandoffStep,
    LookupStep,
    Menu,
    Option,
    Say,
    SetValues,
    Step,
    Text,
    Timeout,
)
from centralita.bot.templates import compile_expression, compile_template

DEFAULT_MAX_ATTEMPTS = 3

# The engine's own words, for what a flow leaves unsaid.
BUILTIN_TEXTS: dict[str, dict[str, str]] = {
    "handoff": {
        "es": "Te comunicaré con un asesor para que te ayude.",
        "en": "I'll connect you with an agent who can help you.",
    },
    "invalid": {
        "es": "No entendí tu respuesta. Por favor intenta de nuevo.",
        "en": "I didn't understand your answer. Please try again.",
    },
    "invalid_menu": {
        "es": "Por favor responde con el número de una de las opciones.",
        "en": "Please reply with the number of one of the options.",
    },
}

_LONE_EXPRESSION = re.compile(r"\{\{(.*)\}\}\Z", re.DOTALL)


def content_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class _Builder:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.language: str = data.get("language", "es")
        self.order = list(data["steps"])
        self.messages: dict[str, Any] = data.get("messages", {})
        settings = data.get("settings", {})
        self.max_attempts: int = settings.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
        self.default_timeout = self.timeout(settings.get("timeout"))
        self.default_invalid = self.invalid(settings.get("invalid"))

    def text(self, value: Any) -> Text:
        if isinstance(value, str) and is_message_key(value):
            value = self.messages[value]
        if isinstance(value, str):
            value = {self.language: value}
        return Text({lang: compile_template(src) for lang, src in value.items()}, self.language)

    def maybe_text(self, value: Any) -> Text | None:
        return None if value is None else self.text(value)

    def builtin(self, name: str) -> Text:
        return Text(
            {lang: compile_template(src) for lang, src in BUILTIN_TEXTS[name].items()},
            self.language,
        )

    def invalid(self, value: Any) -> tuple[Text, ...]:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        return tuple(self.text(item) for item in items)

    def timeout(self, value: Any) -> Timeout | None:
        if not value:
            return None
        return Timeout(
            after=parse_duration(value["after"]),
            remind=self.maybe_text(value.get("remind")),
            max_reminders=value.get("max_reminders", 1 if "remind" in value else 0),
            then=value.get("then"),
        )

    def after(self, sid: str, step: dict[str, Any]) -> str:
        if "next" in step:
            return str(step["next"])
        index = self.order.index(sid)
        return self.order[index + 1] if index + 1 < len(self.order) else RETURN

    def question(self, sid: str, step: dict[str, Any], kind: str) -> dict[str, Any]:
        invalid = self.invalid(step.get("invalid")) or self.default_invalid
        if not invalid:
            invalid = (self.builtin("invalid_menu" if kind == "menu" else "invalid"),)
        timeout = self.timeout(step.get("timeout")) if "timeout" in step else self.default_timeout
        return {
            "id": sid,
            "type": kind,
            "text": self.text(step["text"]),
            "invalid": invalid,
            "max_attempts": step.get("max_attempts", self.max_attempts),
            "on_exhausted": step.get("on_exhausted", FALLBACK_HANDOFF),
            "timeout": timeout,
        }

    def step(self, sid: str, step: dict[str, Any]) -> Step:
        kind = step["type"]
        if kind == "say":
            media = step.get("media")
            return Say(
                sid,
                kind,
                self.maybe_text(step.get("text")),
                compile_template(media) if media else None,
                self.after(sid, step),
            )
        if kind == "ask":
            return Ask(
                **self.question(sid, step, kind),
                slot=step["slot"],
                rules=_rules(step.get("validate", {})),
                next=self.after(sid, step),
            )
        if kind == "menu":
            after = self.after(sid, step)
            options = tuple(
                Option(
                    key=str(option.get("key", i + 1)),
                    label=self.text(option["label"]),
                    next=option.get("next", after),
                    match=tuple(tuple(textmatch.words(w)) for w in option.get("match", [])),
                )
                for i, option in enumerate(step.get("options", []))
            )
            return Menu(
                **self.question(sid, step, kind),
                options=options,
                from_candidates="options_from" in step,
                slot=step.get("slot"),
                next=after,
            )
        if kind == "branch":
            branches = tuple(
                (
                    compile_expression(
                        str(b["if"]).lower() if isinstance(b["if"], bool) else b["if"]
                    ),
                    b["then"],
                )
                for b in step["branches"]
            )
            return Branch(sid, kind, branches, step["else"])
        if kind == "set":
            return SetValues(
                sid,
                kind,
                {slot: _value(v) for slot, v in step["values"].items()},
                self.after(sid, step),
            )
        if kind == "lookup":
            outcomes = step.get("on", {})
            fallthrough = self.after(sid, {})
            on = {
                o: outcomes.get(o, fallthrough)
                for o in ("found", "not_found", "ambiguous", "error")
            }
            return LookupStep(sid, kind, compile_template(step["document"]), on)
        if kind == "handoff":
            return HandoffStep(
                sid,
                kind,
                self.maybe_text(step.get("text")),
                step.get("campaign"),
                step.get("priority", 0),
                tuple(step.get("tags", [])),
            )
        if kind == "flow":
            return CallFlow(sid, kind, step["flow"], self.after(sid, step))
        if kind == "end":
            return End(sid, kind, self.maybe_text(step.get("text")))
        raise ValueError(f"unknown step type {kind!r}")  # the schema forbids it

    def build(self, path: str, source: str) -> Flow:
        steps: dict[str, Step] = {sid: self.step(sid, s) for sid, s in self.data["steps"].items()}
        steps[FALLBACK_HANDOFF] = HandoffStep(
            FALLBACK_HANDOFF, "handoff", self.builtin("handoff"), None, 0, ()
        )
        calls = frozenset(s.flow for s in steps.values() if isinstance(s, CallFlow))
        return Flow(
            id=self.data["flow"],
            version=content_hash(source),
            path=path,
            source=source,
            description=self.data.get("description", ""),
            language=self.language,
            languages=tuple(self.data.get("languages", [self.language])),
            start=self.data["start"],
            steps=steps,
            calls=calls,
        )


def _rules(spec: dict[str, Any]) -> Rules:
    normalize = spec.get("normalize", ())
    choices = spec.get("choices")
    return Rules(
        pattern=re.compile(spec["pattern"]) if "pattern" in spec else None,
        type=spec.get("type", "text"),
        min=spec.get("min"),
        max=spec.get("max"),
        min_length=spec.get("min_length"),
        max_length=spec.get("max_length"),
        choices=tuple(str(c) for c in choices) if choices else None,
        normalize=(normalize,) if isinstance(normalize, str) else tuple(normalize),
    )


def _value(value: Any) -> Any:
    """A lone `{{ expr }}` keeps the expression's type (a number stays a number)."""
    if not isinstance(value, str):
        return value
    lone = _LONE_EXPRESSION.match(value.strip())
    if lone and "{{" not in lone.group(1) and "}}" not in lone.group(1):
        return compile_expression(lone.group(1).strip())
    return compile_template(value)


def build_flow(data: dict[str, Any], path: str, source: str) -> Flow:
    """Build a Flow from a document that passed the schema and the semantic checks."""
    return _Builder(data).build(path, source)
