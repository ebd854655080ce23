"""Flow tests (`flows/tests/*.yaml`): scripted conversations run on the pure engine.

No database and no Redis: lookups use the file's fixtures, the clock is simulated. Each `bot:`
consumes the next message the bot sent since the customer's last message (or the last wait);
messages not consumed by then are dropped, so a case asserts only what it cares about.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from centralita.bot import effects as fx
from centralita.bot.directory import MemoryDirectory
from centralita.bot.durations import DurationError, parse_duration
from centralita.bot.engine import Contact, CustomerRecord, DirectoryError, Engine, Inbound
from centralita.bot.loader import FlowSet, flow_files, load_document, read_source
from centralita.bot.model import FALLBACK_HANDOFF, Flow
from centralita.bot.problems import Problem
from centralita.bot.schema import schema_problems
from centralita.bot.state import CLOSED, HANDOFF, ChatState
from centralita.bot.yamlsrc import Document
from centralita.bot.yamlsrc import Path as YamlPath

TEST_SCHEMA = "flow-tests.schema.json"
# Cases start on a weekday afternoon, Bogotá time, so `now` in templates looks ordinary.
CLOCK_START = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
DEFAULT_CONTACT = {"address": "whatsapp:+573001234567", "profile_name": "Cliente"}


@dataclass
class Failure:
    line: int
    col: int
    message: str
    expected: str | None = None
    actual: str | None = None
    transcript: list[str] = field(default_factory=list)

    def diff(self) -> list[str]:
        if self.expected is None or self.actual is None:
            return []
        if "\n" in self.expected or "\n" in self.actual:
            return list(
                difflib.unified_diff(
                    self.expected.splitlines(),
                    self.actual.splitlines(),
                    "expected",
                    "actual",
                    lineterm="",
                    n=2,
                )
            )
        return [f"expected: {self.expected!r}", f"actual:   {self.actual!r}"]


@dataclass
class CaseResult:
    file: str
    name: str
    line: int
    failure: Failure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    visited: dict[str, set[str]] = field(default_factory=dict)
    tested_flows: set[str] = field(default_factory=set)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.passed)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not any(p.severity == "error" for p in self.problems)

    def coverage(self, flows: FlowSet) -> list[tuple[str, int, int, list[str]]]:
        """(flow, steps visited, steps, not visited) for each flow the tests exercised."""
        rows = []
        for flow_id in sorted(self.tested_flows):
            flow = flows.current(flow_id)
            if flow is None:
                continue
            steps = [s for s in flow.steps if s != FALLBACK_HANDOFF]
            seen = self.visited.get(flow_id, set())
            missing = [s for s in steps if s not in seen]
            rows.append((flow_id, len(steps) - len(missing), len(steps), missing))
        return rows


class _CaseFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class _TestFile:
    file: str
    doc: Document
    flow: Flow
    directory: MemoryDirectory
    lines: list[str]

    def written(self, path: YamlPath, value: Any) -> str:
        """A customer's text as written in the file: `user: 150.000` is "150.000", not the
        float YAML reads, and `user: 0123` keeps its zero."""
        if isinstance(value, str):
            return value
        mark = self.doc.at(path)
        if not 0 < mark.line <= len(self.lines):
            return str(value)
        token = self.lines[mark.line - 1][mark.col - 1 :]
        for end in (" #", ",", "}", "]"):
            token = token.split(end, 1)[0]
        return token.strip() or str(value)


def _is_regex(expected: str) -> bool:
    return len(expected) >= 2 and expected.startswith("/") and expected.endswith("/")


def load_test_file(path: Path, flows: FlowSet) -> tuple[_TestFile | None, list[Problem]]:
    file = str(path)
    source, problems = read_source(path, file)
    if source is None:
        return None, problems
    doc, problems = load_document(source, file)
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        return None, [
            Problem(file, 1, 1, "a flow test file must be a mapping with flow: and cases:")
        ]
    problems = schema_problems(doc, TEST_SCHEMA, file)
    for repeat_path, repeat, first in doc.duplicates:
        problems.append(
            Problem(
                file,
                repeat.line,
                repeat.col,
                f"duplicate key {repeat_path[-1]!r} (first at line {first.line})",
            )
        )
    data = doc.data
    flow = flows.current(data["flow"]) if isinstance(data.get("flow"), str) else None
    if isinstance(data.get("flow"), str) and flow is None:
        mark = doc.at(("flow",))
        close = difflib.get_close_matches(data["flow"], list(flows.flows), n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else "is the flow valid? run `centralita validate`"
        )
        problems.append(
            Problem(
                file, mark.line, mark.col, f"no valid flow {data['flow']!r} to test", "error", hint
            )
        )
    # A case may stop inside a called flow, so `step:` may name a step of any of them.
    known_steps = (
        {sid for fid in _flow_closure(flows, flow.id) for sid in flows.flows[fid].steps}
        if flow is not None
        else set()
    )
    for path_, step in _steps(data):
        mark = doc.at(path_)
        if isinstance(step.get("bot"), str) and _is_regex(step["bot"]):
            try:
                re.compile(step["bot"][1:-1])
            except re.error as exc:
                problems.append(
                    Problem(file, mark.line, mark.col, f"invalid regular expression: {exc}")
                )
        if isinstance(step.get("wait"), str):
            try:
                parse_duration(step["wait"])
            except DurationError as exc:
                wait = doc.at((*path_, "wait"))
                problems.append(Problem(file, wait.line, wait.col, str(exc)))
        if (
            isinstance(step.get("step"), str)
            and flow is not None
            and step["step"] not in known_steps
        ):
            close = difflib.get_close_matches(step["step"], sorted(known_steps), n=1)
            advice = f"did you mean {close[0]!r}?" if close else None
            problems.append(
                Problem(
                    file,
                    mark.line,
                    mark.col,
                    f"flow {flow.id!r} has no step {step['step']!r}",
                    "error",
                    advice,
                )
            )
    rows = data.get("customers")
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if isinstance(row, dict) and not str(row.get("document", "")).strip():
            # The schema sees a string; lookups need a document in it.
            mark = doc.at(("customers", i, "document"))
            problems.append(Problem(file, mark.line, mark.col, "customer has an empty document"))
    if problems or flow is None:
        return None, problems
    directory = MemoryDirectory.from_fixtures(data)
    return _TestFile(file, doc, flow, directory, source.splitlines()), []


def _steps(data: dict[str, Any]) -> Iterable[tuple[YamlPath, dict[str, Any]]]:
    for c, case in enumerate(data.get("cases") or []):
        if isinstance(case, dict) and isinstance(case.get("steps"), list):
            for s, step in enumerate(case["steps"]):
                if isinstance(step, dict):
                    yield ("cases", c, "steps", s), step


class _Unavailable:
    """The customer databases of a case with `lookup_error: true`: every lookup fails."""

    def find(self, document: str, campaigns: Sequence[str] | None) -> list[CustomerRecord]:
        raise DirectoryError("the customer databases are unavailable (lookup_error: true)")


class _Conversation:
    """One case being played: the chat's state, unread bot messages, and what happened."""

    def __init__(
        self, engine: Engine, test: _TestFile, case: dict[str, Any], report: Report
    ) -> None:
        self.engine = engine
        self.test = test
        self.case = case
        self.report = report
        contact = {**DEFAULT_CONTACT, **case.get("contact", {})}
        if "phone" in contact and "address" not in case.get("contact", {}):
            contact["address"] = f"whatsapp:{contact['phone']}"
        self.contact = Contact(contact["address"], contact["profile_name"])
        self.campaigns = case.get("number_campaigns")
        self.language = case.get("language")
        self.now = CLOCK_START
        self.state: ChatState | None = None
        self.pending: list[str] = []
        self.transcript: list[str] = []
        self.last_handoff: fx.Handoff | None = None

    def fail(
        self, path: YamlPath, message: str, expected: str | None = None, actual: str | None = None
    ) -> None:
        mark = self.test.doc.at(path)
        raise _CaseFailed(
            Failure(mark.line, mark.col, message, expected, actual, self.transcript[-12:])
        )

    def absorb(self, turn: fx.Turn, path: YamlPath) -> None:
        self.state = turn.state
        for flow_id, step_id in turn.trace:
            self.report.visited.setdefault(flow_id, set()).add(step_id)
        for effect in turn.effects:
            if isinstance(effect, fx.Send):
                text = effect.text + (f" [{effect.media}]" if effect.media else "")
                self.pending.append(text)
                self.transcript.append(f"bot: {text}")
            elif isinstance(effect, fx.Close):
                if effect.text:
                    self.pending.append(effect.text)
                    self.transcript.append(f"bot: {effect.text}")
                self.transcript.append("(chat closed)")
            elif isinstance(effect, fx.Handoff):
                self.last_handoff = effect
                self.transcript.append(
                    f"(handed off: campaign={effect.campaign}, reason={effect.reason})"
                )
            elif isinstance(effect, fx.FlowError):
                self.transcript.append(f"(flow error at {effect.step}: {effect.message})")
                self.fail(path, f"the flow failed at step {effect.step!r}: {effect.message}")

    def play(self, path: YamlPath, step: dict[str, Any]) -> None:
        kind, value = next(iter(step.items()))
        getattr(self, f"do_{kind}")(path, value)

    def do_user(self, path: YamlPath, value: Any) -> None:
        text = self.test.written((*path, "user"), value)
        self.pending.clear()
        self.transcript.append(f"customer: {text}")
        if self.state is None or self.state.status == CLOSED:
            turn = self.engine.start(
                self.test.flow.id,
                self.contact,
                self.now,
                message=Inbound(text),
                campaigns=self.campaigns,
                language=self.language,
            )
        else:
            turn = self.engine.receive(
                self.state, Inbound(text), self.contact, self.now, campaigns=self.campaigns
            )
        self.absorb(turn, path)

    def do_wait(self, path: YamlPath, value: str) -> None:
        self.pending.clear()
        self.now += parse_duration(value)
        self.transcript.append(f"(waited {value})")
        if self.state is not None:
            self.absorb(
                self.engine.tick(self.state, self.contact, self.now, campaigns=self.campaigns), path
            )

    def do_bot(self, path: YamlPath, expected: str) -> None:
        if not self.pending:
            self.fail(
                path, "expected a bot message, but the bot sent nothing more", expected, "(nothing)"
            )
        actual = self.pending.pop(0)
        if _is_regex(expected):
            if not re.search(expected[1:-1], actual):
                self.fail(path, f"bot message does not match {expected}", expected, actual)
        elif actual != expected:
            self.fail(path, "bot message differs", expected, actual)

    def do_slots(self, path: YamlPath, expected: dict[str, Any]) -> None:
        slots = self.state.slots if self.state else {}
        for name, value in expected.items():
            if name not in slots:
                self.fail(path, f"slot {name!r} is not set", repr(value), f"slots: {slots}")
            if slots[name] != value:
                self.fail(path, f"slot {name!r} differs", repr(value), repr(slots[name]))

    def do_handoff(self, path: YamlPath, expected: Any) -> None:
        if self.state is None or self.state.status != HANDOFF or self.last_handoff is None:
            status = self.state.status if self.state else "not started"
            self.fail(
                path,
                "expected the chat to be handed to an agent",
                "handoff",
                f"{status} at step {self.state.step if self.state else '-'}",
            )
        assert self.last_handoff is not None
        if isinstance(expected, dict):
            for key, value in expected.items():
                actual = getattr(self.last_handoff, key)
                if key == "tags":
                    actual = list(actual)
                if actual != value:
                    self.fail(path, f"handoff {key} differs", repr(value), repr(actual))

    def do_end(self, path: YamlPath, _: Any) -> None:
        if self.state is None or self.state.status != CLOSED:
            status = (
                f"{self.state.status} at step {self.state.step}" if self.state else "not started"
            )
            self.fail(path, "expected the chat to be closed", "closed", status)

    def do_step(self, path: YamlPath, expected: str) -> None:
        actual = self.state.step if self.state else "(not started)"
        if actual != expected:
            self.fail(path, "the chat is at another step", expected, actual)

    def do_campaign(self, path: YamlPath, expected: str | None) -> None:
        actual = (self.state.campaign or {}).get("slug") if self.state else None
        if actual != expected:
            self.fail(path, "the chat's campaign differs", repr(expected), repr(actual))


def _flow_closure(flows: FlowSet, flow_id: str) -> set[str]:
    seen: set[str] = set()
    todo = [flow_id]
    while todo:
        current = todo.pop()
        flow = flows.current(current)
        if current in seen or flow is None:
            continue
        seen.add(current)
        todo.extend(flow.calls)
    return seen


def find_test_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    return flow_files(paths, recursive=True)


def run_flow_tests(
    paths: Iterable[Path], flows: FlowSet, *, name_filter: str | None = None
) -> Report:
    """Run every case of every test file under `paths` against `flows`."""
    files, problems = find_test_files(paths)
    report = Report(problems=problems)
    for path in files:
        test, file_problems = load_test_file(path, flows)
        report.problems.extend(file_problems)
        if test is None:
            continue
        engine = Engine(flows, test.directory)
        failing = Engine(flows, _Unavailable())
        report.tested_flows |= _flow_closure(flows, test.flow.id)
        for c, case in enumerate(test.doc.data["cases"]):
            if name_filter and name_filter.lower() not in case["name"].lower():
                continue
            mark = test.doc.at(("cases", c))
            result = CaseResult(test.file, case["name"], mark.line)
            conversation = _Conversation(
                failing if case.get("lookup_error") else engine, test, case, report
            )
            try:
                for s, step in enumerate(case["steps"]):
                    conversation.play(("cases", c, "steps", s), step)
            except _CaseFailed as failed:
                result.failure = failed.failure
            report.results.append(result)
    return report
