"""Small flows and a chat driver shared by the bot tests (no shipped flows are used)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from centralita.bot import effects as fx
from centralita.bot.directory import MemoryDirectory
from centralita.bot.engine import Contact, CustomerDirectory, Engine, Inbound
from centralita.bot.loader import FlowSet, Loaded, load_text
from centralita.bot.model import Flow
from centralita.bot.problems import Problem
from centralita.bot.state import ChatState

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CONTACT = Contact("whatsapp:+573001234567", "Ana")


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def load(text: str, file: str = "flow.yaml") -> Loaded:
    return load_text(dedent(text), file)


def errors(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def flow_of(text: str, file: str = "flow.yaml") -> Flow:
    """A valid flow from YAML text; fails the test with the problems otherwise."""
    loaded = load(text, file)
    assert loaded.flow is not None, "\n".join(p.format() for p in loaded.problems)
    return loaded.flow


def flowset(*texts: str) -> FlowSet:
    flows = FlowSet()
    for i, text in enumerate(texts):
        flows.add(flow_of(text, f"flow{i}.yaml"))
    return flows


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(dedent(text), encoding="utf-8")
    return path


def problem_at(problems: Sequence[Problem], line: int, fragment: str) -> Problem:
    """The problem on `line` whose message contains `fragment` (fails listing them all)."""
    for problem in problems:
        if problem.line == line and fragment in problem.message:
            return problem
    listing = "\n".join(p.format() for p in problems) or "(no problems)"
    raise AssertionError(f"no problem with {fragment!r} on line {line}; got:\n{listing}")


class Chat:
    """Drives one conversation through the engine, keeping the clock and the state."""

    def __init__(
        self,
        flows: FlowSet | Flow,
        directory: CustomerDirectory | None = None,
        *,
        flow_id: str | None = None,
        contact: Contact = CONTACT,
        campaigns: Sequence[str] | None = None,
        language: str | None = None,
    ) -> None:
        if isinstance(flows, Flow):
            one = FlowSet()
            one.add(flows)
            flows = one
        self.flows = flows
        self.engine = Engine(flows, directory if directory is not None else MemoryDirectory())
        self.flow_id = flow_id or next(iter(flows.flows))
        self.contact = contact
        self.campaigns = campaigns
        self.language = language
        self.now = T0
        self.state: ChatState | None = None
        self.turns: list[fx.Turn] = []

    def _keep(self, turn: fx.Turn) -> fx.Turn:
        self.state = turn.state
        self.turns.append(turn)
        return turn

    def start(self, text: str = "hola") -> fx.Turn:
        return self._keep(
            self.engine.start(
                self.flow_id,
                self.contact,
                self.now,
                message=Inbound(text),
                campaigns=self.campaigns,
                language=self.language,
            )
        )

    def send(self, text: str) -> fx.Turn:
        assert self.state is not None, "start the chat first"
        return self._keep(
            self.engine.receive(
                self.state, Inbound(text), self.contact, self.now, campaigns=self.campaigns
            )
        )

    def wait(self, delta: timedelta) -> fx.Turn:
        assert self.state is not None, "start the chat first"
        self.now += delta
        return self._keep(
            self.engine.tick(self.state, self.contact, self.now, campaigns=self.campaigns)
        )

    @property
    def step(self) -> str:
        assert self.state is not None
        return self.state.step

    @property
    def slots(self) -> dict[str, object]:
        assert self.state is not None
        return self.state.slots


def only(effects: Sequence[fx.Effect], kind: type) -> list:
    return [e for e in effects if isinstance(e, kind)]


def pos(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in the dedented text."""
    source = dedent(text)
    index = -1
    for _ in range(nth):
        index = source.index(needle, index + 1)
    line = source.count("\n", 0, index) + 1
    col = index - (source.rfind("\n", 0, index) + 1) + 1
    return line, col
