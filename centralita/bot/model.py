"""A validated flow, ready to run: typed steps with compiled texts, rules and conditions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from centralita.bot.inputs import Rules
from centralita.bot.templates import Expression, Template

# A synthetic target: leave this flow (return to the caller, or hand off at the top level).
RETURN = "__return__"
# A synthetic step every flow has: the default when questions are exhausted or a flow fails.
FALLBACK_HANDOFF = "__handoff__"


@dataclass(frozen=True, slots=True)
class Text:
    """A text in one or more languages; each variant a compiled template."""

    variants: Mapping[str, Template]
    default_language: str

    def render(self, language: str, context: Callable[[], Mapping[str, Any]]) -> str:
        """The text in `language` (else the default one); `context` is only called, and the
        template only rendered, when the variant has template syntax: most texts are constant."""
        variant = self.variants.get(language) or self.variants.get(self.default_language)
        if variant is None:
            variant = next(iter(self.variants.values()))
        if variant.constant:
            return variant.source
        return variant.render(context())


@dataclass(frozen=True, slots=True)
class Timeout:
    after: timedelta
    remind: Text | None
    max_reminders: int
    then: str | None


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    label: Text
    next: str
    match: tuple[tuple[str, ...], ...]  # folded words of each match phrase


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    type: str


@dataclass(frozen=True, slots=True)
class Say(Step):
    text: Text | None
    media: Template | None
    next: str


@dataclass(frozen=True, slots=True)
class Question(Step):
    """What ask and menu share: a prompt, retries and silence handling."""

    text: Text
    invalid: tuple[Text, ...]
    max_attempts: int
    on_exhausted: str
    timeout: Timeout | None


@dataclass(frozen=True, slots=True)
class Ask(Question):
    slot: str
    rules: Rules
    next: str


@dataclass(frozen=True, slots=True)
class Menu(Question):
    options: tuple[Option, ...]
    from_candidates: bool
    slot: str | None
    next: str  # after an options_from pick


@dataclass(frozen=True, slots=True)
class Branch(Step):
    branches: tuple[tuple[Expression, str], ...]
    otherwise: str


@dataclass(frozen=True, slots=True)
class SetValues(Step):
    values: Mapping[str, Any]  # slot -> Template, Expression (for a lone {{ expr }}) or literal
    next: str


@dataclass(frozen=True, slots=True)
class LookupStep(Step):
    document: Template
    on: Mapping[str, str]  # outcome -> step, every outcome resolved


@dataclass(frozen=True, slots=True)
class HandoffStep(Step):
    text: Text | None
    campaign: str | None
    priority: int
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CallFlow(Step):
    flow: str
    next: str


@dataclass(frozen=True, slots=True)
class End(Step):
    text: Text | None


@dataclass
class Flow:
    """One content version of a flow. Shared by every chat on that version: never mutated."""

    id: str
    version: str  # sha256 of the source text
    path: str
    source: str
    description: str
    language: str
    languages: tuple[str, ...]
    start: str
    steps: dict[str, Step]
    calls: frozenset[str]  # ids of the flows it calls
    machine: Any = field(default=None, repr=False)  # transitions.Machine, set by the compiler

    def edges(self) -> list[tuple[str, str, str]]:
        """(source, trigger, destination) for every transition, in step order."""
        found: list[tuple[str, str, str]] = []
        for name, event in self.machine.events.items():
            for source, transitions in event.transitions.items():
                found.extend((source, name, t.dest) for t in transitions)
        order = {step_id: i for i, step_id in enumerate(self.steps)}
        found.sort(key=lambda edge: order.get(edge[0], len(order)))
        return found
