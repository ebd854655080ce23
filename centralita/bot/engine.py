"""The interpreter: (flow version, chat state, event) -> (new state, effects). Pure.

Events are an inbound message and a clock tick. The engine never touches a database, a queue
or the network: customer lookups go through the `CustomerDirectory` it is given (the app's
queries in production, fixtures in flow tests), and everything else comes back as effects.
The state passed in is never mutated; the new one is returned in the Turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Undefined

from centralita.bot import effects as fx
from centralita.bot.compiler import fire
from centralita.bot.inputs import check, normalize_document
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
    Say,
    SetValues,
    Step,
    Text,
)
from centralita.bot.state import ACTIVE, CLOSED, HANDOFF, ChatState, Frame
from centralita.bot.templates import Expression, RenderError, Template, base_context
from centralita.bot.text import contains_phrase, fold, words

# Centralita's first users are Colombian call centers; a campaign's own timezone wins.
DEFAULT_TIMEZONE = "America/Bogota"
MAX_CALL_DEPTH = 5
# Steps entered in one turn before the engine calls it a runaway loop (the validator already
# rejects loops that never wait; this guards against flows that loop through other flows).
MAX_STEPS_PER_TURN = 200


class FlowSource(Protocol):
    def current(self, flow_id: str) -> Flow | None: ...

    def version(self, flow_id: str, version: str) -> Flow | None: ...


@dataclass(frozen=True)
class CustomerRecord:
    """A row of a campaign's customer database, as the lookup returns it."""

    campaign: str
    campaign_name: str
    document: str
    name: str | None = None
    phone: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    campaign_timezone: str | None = None

    def as_context(self) -> dict[str, Any]:
        return {**self.fields, "document": self.document, "name": self.name, "phone": self.phone}

    def campaign_context(self) -> dict[str, Any]:
        campaign = {"slug": self.campaign, "name": self.campaign_name}
        if self.campaign_timezone:
            campaign["timezone"] = self.campaign_timezone
        return campaign


class DirectoryError(Exception):
    """The customer databases could not be searched (the lookup's `error` outcome)."""


class CustomerDirectory(Protocol):
    def find(self, document: str, campaigns: Sequence[str] | None) -> list[CustomerRecord]:
        """Customers with this normalised document in active campaigns (only `campaigns`
        when given)."""
        ...


@dataclass(frozen=True)
class Contact:
    address: str  # e.g. whatsapp:+573001234567
    profile_name: str = ""

    @property
    def channel(self) -> str:
        return self.address.split(":", 1)[0] if ":" in self.address else "sms"

    @property
    def phone(self) -> str:
        return self.address.split(":", 1)[1] if ":" in self.address else self.address

    def as_context(self) -> dict[str, str]:
        return {
            "address": self.address,
            "phone": self.phone,
            "profile_name": self.profile_name,
            "channel": self.channel,
        }


@dataclass(frozen=True)
class Inbound:
    text: str = ""
    media: tuple[str, ...] = ()


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class FlowFailure(Exception):
    """A flow cannot go on (missing subflow, too deep, runaway); the chat goes to an agent."""


class Engine:
    def __init__(
        self,
        flows: FlowSource,
        directory: CustomerDirectory | None = None,
        *,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        self.flows = flows
        self.directory = directory
        self.timezone = ZoneInfo(timezone)

    def zone(self, campaign: dict[str, Any] | None) -> ZoneInfo:
        """Where the chat's clock is: its campaign's timezone, else the engine's default."""
        name = (campaign or {}).get("timezone")
        if name:
            try:
                return _zone(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                pass  # an unknown zone in a customer file must not stop the conversation
        return self.timezone

    def start(
        self,
        flow_id: str,
        contact: Contact,
        now: datetime,
        *,
        message: Inbound | None = None,
        campaigns: Sequence[str] | None = None,
        language: str | None = None,
    ) -> fx.Turn:
        """Open a conversation: the first message starts the flow (it is not an answer)."""
        flow = self.flows.current(flow_id)
        if flow is None:
            raise KeyError(f"flow {flow_id!r} is not loaded")
        lang = language if language in flow.languages else flow.language
        state = ChatState(flow=flow.id, version=flow.version, step=flow.start, language=lang)
        run = _Run(self, flow, state, contact, now, message or Inbound(), campaigns)
        run.go(flow.start)
        return run.turn

    def receive(
        self,
        state: ChatState,
        message: Inbound,
        contact: Contact,
        now: datetime,
        *,
        campaigns: Sequence[str] | None = None,
    ) -> fx.Turn:
        """A customer message. After a handoff or close the bot stays silent."""
        run = self._resume(state, contact, now, message, campaigns)
        if run is None:
            return fx.Turn(state)
        step = run.flow.steps.get(run.state.step)
        if isinstance(step, Ask):
            run.guarded(run.answer_ask, step)
        elif isinstance(step, Menu):
            run.guarded(run.answer_menu, step)
        return run.turn

    def tick(
        self,
        state: ChatState,
        contact: Contact,
        now: datetime,
        *,
        campaigns: Sequence[str] | None = None,
    ) -> fx.Turn:
        """The clock moved: send due reminders and follow due silence timeouts."""
        run = self._resume(state, contact, now, Inbound(), campaigns)
        if run is None or state.deadline is None or now.timestamp() < state.deadline:
            return run.turn if run else fx.Turn(state)
        run.guarded(run.silence)
        return run.turn

    def _resume(
        self,
        state: ChatState,
        contact: Contact,
        now: datetime,
        message: Inbound,
        campaigns: Sequence[str] | None,
    ) -> _Run | None:
        if state.status != ACTIVE:
            return None
        flow = self.flows.version(state.flow, state.version)
        if flow is None:
            raise KeyError(f"flow {state.flow!r} version {state.version[:12]} is not loaded")
        # Copy what the run mutates, so the caller's state stays as it was (purity).
        return _Run(self, flow, state.copy(), contact, now, message, campaigns)


_UNSET = object()


class _Run:
    """One event being processed: the working state and the effects so far."""

    def __init__(
        self,
        engine: Engine,
        flow: Flow,
        state: ChatState,
        contact: Contact,
        now: datetime,
        message: Inbound,
        campaigns: Sequence[str] | None,
    ) -> None:
        self.engine = engine
        self.flow = flow
        self.state = state
        self.contact = contact
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.message = message
        self.campaigns = campaigns
        self.turn = fx.Turn(state)
        self.entered = 0
        self.handoff_reason = "flow"
        self._context: dict[str, Any] | None = None
        self._context_campaign: Any = _UNSET

    # -- context -----------------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        """What templates see. Built once per event; the parts that steps change are refreshed
        on every call (cheap), so a template always sees the current slots and customer."""
        context = self._context
        if context is None:
            context = self._context = base_context()
            context["contact"] = self.contact.as_context()
            context["message"] = {"text": self.message.text, "media": list(self.message.media)}
        state = self.state
        context["slots"] = state.slots
        context["customer"] = state.customer
        context["campaign"] = state.campaign
        context["candidates"] = state.candidates
        context["attempt"] = state.attempts + 1
        context["language"] = state.language
        if state.campaign is not self._context_campaign:
            # The campaign decides the timezone of `now` and `today`; refresh when it changes.
            local = self.now.astimezone(self.engine.zone(state.campaign))
            context["now"] = local
            context["today"] = local.date()
            self._context_campaign = state.campaign
        return context

    def render(self, text: Text) -> str:
        return text.render(self.state.language, self.context)

    def send(self, text: str, media: str | None = None) -> None:
        if text or media:
            self.turn.effects.append(fx.Send(text, media))

    # -- moving ------------------------------------------------------------------------------

    def go(self, step_id: str | None) -> None:
        """Enter steps until one waits for the customer or ends the bot's part."""
        try:
            while step_id is not None:
                self.entered += 1
                if self.entered > MAX_STEPS_PER_TURN:
                    raise FlowFailure(
                        f"more than {MAX_STEPS_PER_TURN} steps without waiting for the customer"
                    )
                if step_id == RETURN:
                    step_id = self.leave_flow()
                    continue
                self.state.step = step_id
                self.turn.trace.append((self.flow.id, step_id))
                step_id = self.enter(self.flow.steps[step_id])
        except (RenderError, FlowFailure) as exc:
            self.fail(str(exc))

    def guarded(self, action: Callable[..., None], *args: Any) -> None:
        """Run an answer or a tick so that a failing template or flow hands the chat to a
        person instead of escaping the engine (a webhook would answer 500, Twilio retry)."""
        try:
            action(*args)
        except (RenderError, FlowFailure) as exc:
            self.fail(str(exc))

    def fail(self, message: str) -> None:
        self.turn.effects.append(fx.FlowError(message, self.flow.id, self.state.step))
        self.handoff_reason = "flow_error"
        self.state.step = FALLBACK_HANDOFF
        self.turn.trace.append((self.flow.id, FALLBACK_HANDOFF))
        fallback = self.flow.steps[FALLBACK_HANDOFF]
        assert isinstance(fallback, HandoffStep)
        self.enter_handoff(fallback)

    def next(self, trigger: str) -> str:
        return fire(self.flow, self.state.step, trigger)

    def leave_flow(self) -> str | None:
        if not self.state.stack:
            # A top-level flow that runs off its end: nobody to return to, so a human takes over.
            self.handoff_reason = "flow_end"
            return FALLBACK_HANDOFF
        frame = self.state.stack.pop()
        caller = self.engine.flows.version(frame.flow, frame.version)
        if caller is None:
            raise FlowFailure(f"flow {frame.flow!r} to return to is no longer loaded")
        self.switch(caller)
        return frame.next

    def switch(self, flow: Flow) -> None:
        self.flow = flow
        self.state.flow = flow.id
        self.state.version = flow.version

    def enter(self, step: Step) -> str | None:
        if isinstance(step, Say):
            media = step.media.render(self.context()) if step.media else None
            self.send(self.render(step.text) if step.text else "", media or None)
            return self.next("next")
        if isinstance(step, Ask | Menu):
            self.ask(step)
            return None
        if isinstance(step, Branch):
            context = self.context()
            for i, (condition, _) in enumerate(step.branches):
                if condition.holds(context):
                    return self.next(f"branch_{i}")
            return self.next("else")
        if isinstance(step, SetValues):
            context = self.context()
            values = {slot: _evaluate(value, context) for slot, value in step.values.items()}
            self.assign(values)
            return self.next("next")
        if isinstance(step, LookupStep):
            return self.next(self.lookup(step))
        if isinstance(step, HandoffStep):
            self.enter_handoff(step)
            return None
        if isinstance(step, CallFlow):
            return self.call(step)
        if isinstance(step, End):
            self.state.status = CLOSED
            self.state.deadline = None
            text = self.render(step.text) if step.text else None
            self.turn.effects.append(fx.Close("bot_completed", text))
            return None
        raise FlowFailure(f"cannot run step {step.id!r} of type {step.type!r}")

    # -- steps -------------------------------------------------------------------------------

    def ask(self, step: Ask | Menu) -> None:
        self.state.attempts = 0
        self.state.reminders = 0
        self.send(self.prompt(step))
        self.wait(step)

    def wait(self, step: Ask | Menu) -> None:
        timeout = step.timeout
        self.state.deadline = (
            self.now.timestamp() + timeout.after.total_seconds() if timeout else None
        )

    def prompt(self, step: Ask | Menu) -> str:
        text = self.render(step.text)
        return self.with_options(step, text) if isinstance(step, Menu) else text

    def with_options(self, step: Menu, text: str) -> str:
        """A menu's text followed by its numbered options, one per line."""
        lines = [f"{i}. {label}" for i, label in enumerate(self.labels(step), start=1)]
        return "\n".join([text, *lines]) if text else "\n".join(lines)

    def labels(self, step: Menu) -> list[str]:
        if step.from_candidates:
            return [str(c["campaign"]["name"]) for c in self.state.candidates or []]
        return [self.render(option.label) for option in step.options]

    def assign(self, values: dict[str, Any]) -> None:
        self.state.slots.update(values)
        language = values.get("language")
        if isinstance(language, str) and language in self.flow.languages:
            self.state.language = language
        self.turn.effects.append(fx.SetSlots(values))

    def lookup(self, step: LookupStep) -> str:
        document = normalize_document(step.document.render(self.context()))
        directory = self.engine.directory
        try:
            if directory is None:
                raise DirectoryError("no customer directory configured")
            found = directory.find(document, self.campaigns) if document else []
        except DirectoryError:
            self.turn.effects.append(fx.Lookup(document, "error"))
            return "error"
        outcome = "found" if len(found) == 1 else "ambiguous" if found else "not_found"
        campaigns = tuple(record.campaign for record in found)
        self.turn.effects.append(fx.Lookup(document, outcome, campaigns))
        if outcome == "found":
            self.select(found[0].campaign_context(), found[0].as_context())
        elif outcome == "ambiguous":
            self.state.candidates = [
                {"campaign": r.campaign_context(), "customer": r.as_context()} for r in found
            ]
        return outcome

    def select(self, campaign: dict[str, Any], customer: dict[str, Any]) -> None:
        self.state.customer = customer
        self.state.campaign = campaign
        self.state.candidates = None
        document = str(customer.get("document", ""))
        self.turn.effects.append(fx.SelectCustomer(str(campaign["slug"]), document))

    def enter_handoff(self, step: HandoffStep) -> None:
        if step.text:
            self.send(self.render(step.text))
        campaign = step.campaign or (self.state.campaign or {}).get("slug")
        self.state.status = HANDOFF
        self.state.deadline = None
        self.turn.effects.append(
            fx.Handoff(campaign, step.priority, step.tags, self.handoff_reason)
        )

    def call(self, step: CallFlow) -> str:
        if len(self.state.stack) >= MAX_CALL_DEPTH:
            raise FlowFailure(f"flow calls nested deeper than {MAX_CALL_DEPTH}")
        called = self.engine.flows.current(step.flow)
        if called is None:
            raise FlowFailure(f"flow {step.flow!r} is not loaded")
        self.state.stack.append(Frame(self.flow.id, self.flow.version, self.next("next")))
        self.switch(called)
        return called.start

    # -- answers and silence -----------------------------------------------------------------

    def answer_ask(self, step: Ask) -> None:
        result = check(self.message.text, step.rules)
        if not result.ok:
            self.invalid(step)
            return
        self.state.attempts = 0
        self.assign({step.slot: result.value})
        self.go(self.next("next"))

    def answer_menu(self, step: Menu) -> None:
        labels = self.labels(step)
        picked = pick_option(step, labels, self.message.text)
        if picked is None:
            self.invalid(step)
            return
        self.state.attempts = 0
        if step.from_candidates:
            candidate = (self.state.candidates or [])[picked]
            self.select(candidate["campaign"], candidate["customer"])
            self.go(self.next("next"))
            return
        if step.slot:
            self.assign({step.slot: step.options[picked].key})
        self.go(self.next(f"option_{picked}"))

    def invalid(self, step: Ask | Menu) -> None:
        self.state.attempts += 1
        if self.state.attempts >= step.max_attempts:
            self.state.attempts = 0
            self.handoff_reason = "exhausted"
            self.go(self.next("exhausted"))
            return
        try:
            text = self.render(step.invalid[min(self.state.attempts, len(step.invalid)) - 1])
            if isinstance(step, Menu):
                text = self.with_options(step, text)
        except RenderError as exc:
            self.fail(str(exc))
            return
        self.send(text)
        # The customer spoke: silence counts again from now.
        self.state.reminders = 0
        self.wait(step)

    def silence(self) -> None:
        step = self.flow.steps.get(self.state.step)
        if not isinstance(step, Ask | Menu) or step.timeout is None:
            self.state.deadline = None
            return
        timeout = step.timeout
        now = self.now.timestamp()
        while self.state.deadline is not None and now >= self.state.deadline:
            if self.state.reminders < timeout.max_reminders:
                self.state.reminders += 1
                try:
                    self.send(self.render(timeout.remind) if timeout.remind else self.prompt(step))
                except RenderError as exc:
                    self.fail(str(exc))
                    return
                self.state.deadline += timeout.after.total_seconds()
            elif timeout.then:
                self.state.deadline = None
                self.state.reminders = 0
                self.handoff_reason = "timeout"
                self.go(self.next("timeout"))
                return
            else:
                self.state.deadline = None


def pick_option(step: Menu, labels: list[str], reply: str) -> int | None:
    """The option a reply picks: its key or label, else its number in the list, else a single
    option's match word. Keys come before numbers: with keys 2 and 1, "1" is the key 1."""
    folded = fold(reply)
    if not folded:
        return None
    for i, label in enumerate(labels):
        key = step.options[i].key if i < len(step.options) else ""
        if folded in (fold(key), fold(label)):
            return i
    for i in range(len(labels)):
        if folded == str(i + 1):
            return i
    reply_words = words(reply)
    present = set(reply_words)
    hits = {
        i
        for i, option in enumerate(step.options)
        if any(
            (m[0] in present) if len(m) == 1 else contains_phrase(reply_words, m)
            for m in option.match
        )
    }
    return hits.pop() if len(hits) == 1 else None


def _evaluate(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, Expression):
        return _plain(value.value(context))
    if isinstance(value, Template):
        return value.render(context)
    return value


def _plain(value: Any) -> Any:
    """Slots are stored as JSON: keep JSON types, turn undefined into null and the rest to text."""
    if isinstance(value, Undefined):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
