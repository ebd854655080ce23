"""Property-based tests: whatever the input, problems (located inside the file), never a crash."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from centralita.bot import yamlsrc
from centralita.bot.directory import MemoryDirectory
from centralita.bot.loader import load_paths, load_text
from centralita.bot.problems import Problem
from centralita.bot.state import ChatState
from centralita.bot.testing import run_flow_tests
from centralita.cli import main

from .helpers import Chat, dedent, flowset

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# What YAML counts as line breaks (the positions we check are the parser's).
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
PROBLEM_LINE = re.compile(r"^(.+?):(\d+):(\d+): (error|warning): .+$")

RICH = """
    flow: rich
    description: Every step type, for mutation
    language: es
    languages: [es, en]
    messages:
      greeting: {es: "¡Hola {{ contact.profile_name }}!", en: "Hi {{ contact.profile_name }}!"}
    settings:
      max_attempts: 2
      invalid: ["No entendí.", "Intenta otra vez."]
      timeout: {after: 15m, remind: "¿Sigues ahí?", max_reminders: 1, then: bye}
    start: greet
    steps:
      greet: {type: say, text: greeting}
      doc:
        type: ask
        text: {es: "Tu documento", en: "Your document"}
        slot: document
        validate: {type: document, min_length: 3, max_length: 12}
      find:
        type: lookup
        document: "{{ slots.document }}"
        on: {found: main, not_found: unknown, ambiguous: pick, error: agent}
      pick: {type: menu, text: "¿Cuál cuenta?", options_from: candidates, next: main}
      unknown: {type: say, text: "No te encontramos.", next: agent}
      main:
        type: menu
        text: "{{ customer.name }}, debes {{ customer.balance | money }}"
        slot: choice
        options:
          - {key: pay, label: Pagar, next: amount, match: [pagar, pago]}
          - {key: lang, label: English, next: english}
          - {key: help, label: Asesor, next: agent, match: [asesor]}
      english: {type: set, values: {language: en}, next: main}
      amount:
        type: ask
        text: "¿Cuánto pagarás?"
        slot: amount
        validate: {type: integer, min: 1}
        on_exhausted: agent
      plan: {type: set, values: {twice: "{{ slots.amount * 2 }}", note: "pago {{ slots.amount }}"}}
      check:
        type: branch
        branches:
          - {if: "slots.amount > 100000", then: survey}
          - {if: "slots.twice == 2", then: agent}
        else: when
      when:
        type: ask
        text: "¿Fecha?"
        slot: day
        validate: {type: date}
        timeout: {after: 5m, then: agent}
      survey: {type: flow, flow: survey, next: bye}
      agent: {type: handoff, text: "Te paso con un asesor.", priority: 1, tags: [bot]}
      bye: {type: end, text: "¡Gracias!"}
    """

SURVEY = """
    flow: survey
    start: score
    steps:
      score:
        type: ask
        text: "¿Nota de 1 a 5?"
        slot: score
        validate: {type: integer, min: 1, max: 5}
      thanks: {type: say, text: "Gracias por tu nota {{ slots.score }}."}
    """

RICH_TESTS = """
    flow: rich
    campaigns:
      - {slug: castigada, name: Cartera castigada}
      - {slug: vigente, name: Cartera vigente, active: true}
    customers:
      - {campaign: castigada, document: "1012345678", name: Ana, balance: 150000}
      - {campaign: vigente, document: "555", name: Luis, balance: 10}
      - {campaign: castigada, document: "555", name: Luis, balance: 20}
    cases:
      - name: pays
        contact: {profile_name: Ana, phone: "+573001112233"}
        language: es
        number_campaigns: [castigada]
        steps:
          - user: hola
          - bot: "¡Hola Ana!"
          - bot: Tu documento
          - wait: 15m
          - bot: /Sigues/
          - user: 1.012.345.678
          - slots: {document: "1012345678"}
          - step: main
          - campaign: castigada
          - user: "1"
          - user: 200000
          - step: score
          - user: "5"
          - bot: Gracias por tu nota 5.
          - end: true
      - name: picks a campaign
        steps:
          - user: hola
          - user: "555"
          - bot: "¿Cuál cuenta?\\n1. Cartera vigente\\n2. Cartera castigada"
          - user: cartera vigente
          - user: asesor
          - handoff: {campaign: vigente, priority: 1, tags: [bot], reason: flow}
    """

VALID_DATA = yamlsrc.load(dedent(RICH)).data
TESTS_DATA = yamlsrc.load(dedent(RICH_TESTS)).data

KEYS = [
    "flow", "start", "steps", "type", "text", "next", "slot", "validate", "options",
    "options_from", "key", "label", "match", "branches", "if", "then", "else", "values",
    "document", "on", "found", "not_found", "campaign", "priority", "tags", "timeout",
    "after", "remind", "max_reminders", "max_attempts", "invalid", "on_exhausted", "messages",
    "settings", "language", "languages", "media", "pattern", "min", "max", "choices",
    "normalize", "user", "bot", "wait", "end", "handoff", "cases", "customers", "name",
]  # fmt: skip
WORDS = [
    "say", "ask", "menu", "branch", "set", "lookup", "handoff", "flow", "end", "greet", "doc",
    "main", "bye", "agent", "survey", "rich", "15m", "0m", "2x", "1d", "{{ slots.x }}", "{{",
    "{% if x %}", "slots.amount > 1", "[a-", "/[a-/", "/Hola/", "es", "en", "fr", "candidates",
    "digits", "integer", "date", "yes", "on", "~", "", " ", "1.012.345", "greeting", "é",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**7),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)
printable = st.characters(blacklist_categories=("Cs",))


def assert_located(problems: list[Problem], text: str) -> None:
    lines = LINE_BREAK.split(text)
    for problem in problems:
        assert 1 <= problem.line <= len(lines), (problem, len(lines))
        assert 1 <= problem.col <= len(lines[problem.line - 1]) + 1, problem
        assert problem.message


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*path, i))
    return found


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def mutate(data: Any, draw: Any) -> Any:
    """One random edit of the tree: delete, rename, retype, retarget or add."""
    data = copy.deepcopy(data)
    all_paths = paths(data)
    path = draw(st.sampled_from(all_paths))
    op = draw(st.sampled_from(["delete", "rename", "retype", "retarget", "add"]))
    if not path:
        return draw(values) if op == "retype" else data
    parent, last = get(data, path[:-1]), path[-1]
    if op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        new = draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)))
        parent[new] = parent.pop(last)
    elif op == "retarget":
        steps = data.get("steps") if isinstance(data, dict) else None
        ids = [str(k) for k in steps] if isinstance(steps, dict) else []
        parent[last] = draw(st.sampled_from([*ids, "nowhere", "doc", "greet"]))
    elif op == "add":
        target = get(data, path)
        if isinstance(target, dict):
            target[draw(st.sampled_from(KEYS))] = draw(values)
        elif isinstance(target, list):
            target.insert(draw(st.integers(0, len(target))), draw(values))
        else:
            parent[last] = draw(values)
    else:
        parent[last] = draw(values)
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=70)


@st.composite
def mutated_text(draw: Any, base: Any) -> str:
    data = base
    for _ in range(draw(st.integers(1, 3))):
        data = mutate(data, draw)
    text = dump(data)
    edit = draw(st.sampled_from(["none", "none", "truncate", "insert", "cut"]))
    if edit != "none" and text:
        at = draw(st.integers(0, len(text)))
        if edit == "truncate":
            text = text[:at]
        elif edit == "insert":
            text = text[:at] + draw(st.text(printable, max_size=6)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
    return text


SNIPPETS = [
    "flow: f", "steps:", "  a:", "    type: say", "  - x", "- ", ": ", "&a", "*a", "{", "}",
    "[", "]", "|", ">", '"', "'", "#", "\t", "---", "!!str", "? ",
]  # fmt: skip
yamlish = st.one_of(
    values.map(dump),
    st.lists(
        st.one_of(
            st.sampled_from(SNIPPETS),
            st.text(printable, max_size=10),
        ),
        max_size=12,
    ).map(lambda parts: "\n".join(parts)),
)


# -- (a) random text and YAML-ish documents --------------------------------------------------


@SETTINGS
@given(st.one_of(st.text(printable, max_size=200), yamlish))
def test_load_text_never_raises_on_random_text(text: str) -> None:
    loaded = load_text(text, "random.yaml")
    assert_located(loaded.problems, text)
    if loaded.flow is not None:
        assert not [p for p in loaded.problems if p.severity == "error"]


# -- (b) mutated valid flows -----------------------------------------------------------------


def test_the_base_flow_is_valid() -> None:
    flows = flowset(RICH, SURVEY)
    assert sorted(flows.flows) == ["rich", "survey"]


@SETTINGS
@given(mutated_text(VALID_DATA))
def test_mutated_flows_give_located_problems(text: str) -> None:
    loaded = load_text(text, "rich.yaml")
    assert_located(loaded.problems, text)


@settings(SETTINGS, max_examples=60)
@given(text=mutated_text(VALID_DATA))
def test_validate_cli_never_crashes_on_mutated_flows(tmp_path_factory: Any, text: str) -> None:
    folder = tmp_path_factory.mktemp("flows")
    (folder / "rich.yaml").write_text(text, encoding="utf-8")
    (folder / "survey.yaml").write_text(dedent(SURVEY), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "bug in Centralita" not in result.output
    for line in result.stdout.splitlines():
        match = PROBLEM_LINE.match(line)
        assert match, line
        source = text if match[1].endswith("rich.yaml") else dedent(SURVEY)
        lines = LINE_BREAK.split(source)
        row, col = int(match[2]), int(match[3])
        assert 1 <= row <= len(lines) and 1 <= col <= len(lines[row - 1]) + 1, line


# -- (c) random conversations ----------------------------------------------------------------

REPLIES = [
    "hola", "1", "2", "3", "9", "pagar", "asesor", "English", "1.012.345.678", "555",
    "1012345678", "150.000", "200000", "1", "0", "15/03/2026", "5", "", "¿qué?", "PAGO",
]  # fmt: skip
actions = st.lists(
    st.one_of(
        st.tuples(st.just("say"), st.one_of(st.sampled_from(REPLIES), st.text(max_size=15))),
        st.tuples(st.just("wait"), st.integers(0, 60 * 60 * 30)),
    ),
    max_size=25,
)


def customers() -> MemoryDirectory:
    directory = MemoryDirectory({"castigada": "Cartera castigada", "vigente": "Cartera vigente"})
    directory.add("castigada", {"document": "1012345678", "name": "Ana", "balance": 150000})
    directory.add("castigada", {"document": "555", "name": "Luis", "balance": 20})
    directory.add("vigente", {"document": "555", "name": "Luis", "balance": 10})
    return directory


CONVERSATION_FLOWS = flowset(RICH, SURVEY)


@SETTINGS
@given(actions, st.sampled_from([None, "es", "en"]), st.sampled_from([None, ["vigente"]]))
def test_random_conversations_never_raise_and_states_stay_json(
    steps: list[tuple[str, Any]], language: str | None, campaigns: list[str] | None
) -> None:
    chat = Chat(
        CONVERSATION_FLOWS, customers(), flow_id="rich", language=language, campaigns=campaigns
    )
    chat.start()
    for kind, value in steps:
        assert chat.state is not None
        before = copy.deepcopy(chat.state)
        turn = chat.send(value) if kind == "say" else chat.wait(timedelta(seconds=value))
        assert chat.turns[-2].state == before  # the previous state was left as it was
        text = json.dumps(turn.state.to_json())
        assert ChatState.loads(text) == turn.state
        assert len(text) < 10_000
        if turn.state.status != "active":
            assert turn.state.deadline is None


# -- (d) mutated flow test files -------------------------------------------------------------


def test_the_base_test_file_passes(tmp_path: Path) -> None:
    (tmp_path / "rich.yaml").write_text(dedent(RICH), encoding="utf-8")
    (tmp_path / "survey.yaml").write_text(dedent(SURVEY), encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "rich.yaml").write_text(dedent(RICH_TESTS), encoding="utf-8")
    flows, _, problems = load_paths([tmp_path])
    assert problems == []
    report = run_flow_tests([tmp_path / "tests"], flows)
    assert report.ok and report.passed == 2, [r.failure for r in report.results] + report.problems


@SETTINGS
@given(text=mutated_text(TESTS_DATA))
def test_mutated_test_files_never_crash_the_runner(tmp_path_factory: Any, text: str) -> None:
    assume(text.strip() != dedent(RICH_TESTS).strip())
    folder = tmp_path_factory.mktemp("tests")
    path = folder / "rich_test.yaml"
    path.write_text(text, encoding="utf-8")
    report = run_flow_tests([path], CONVERSATION_FLOWS)
    assert_located(report.problems, text)
    for result in report.results:
        if result.failure is not None:
            assert result.failure.line >= 1 and result.failure.message
