"""The flow test runner: passing cases, every kind of failure, coverage and bad test files."""

from __future__ import annotations

from pathlib import Path

import pytest

from centralita.bot.loader import FlowSet, load_paths
from centralita.bot.testing import Report, run_flow_tests

from .helpers import dedent, pos, write

SHOP = """
    flow: shop
    start: hello
    settings:
      timeout: {after: 15m, remind: "¿Sigues ahí?", max_reminders: 1, then: bye}
    steps:
      hello: {type: say, text: "¡Hola {{ contact.profile_name }}!"}
      doc:
        type: ask
        text: "Escribe tu documento"
        slot: document
        validate: {type: document}
      find:
        type: lookup
        document: "{{ slots.document }}"
        on: {found: menu, not_found: unknown}
      unknown: {type: handoff, text: "No te encontré", campaign: general}
      menu:
        type: menu
        text: "{{ customer.name }}, debes {{ customer.balance | money }}"
        options:
          - {label: Pagar, next: paid, match: [pagar]}
          - {label: Asesor, next: agent}
      paid: {type: end, text: "Gracias por tu pago"}
      agent: {type: handoff, text: "Te paso", priority: 2, tags: [deuda]}
      bye: {type: end, text: "Chao"}
    """

FIXTURES = """
    flow: shop
    campaigns:
      - {slug: castigada, name: Cartera castigada}
    customers:
      - {campaign: castigada, document: "1012345678", name: Ana, balance: 150000}
    """

PASSING = (
    FIXTURES
    + """
    cases:
      - name: known customer pays
        contact: {profile_name: Ana}
        steps:
          - user: hola
          - bot: "¡Hola Ana!"
          - bot: /documento/
          - user: 1.012.345.678
          - slots: {document: "1012345678"}
          - bot: "Ana, debes $150.000\\n1. Pagar\\n2. Asesor"
          - step: menu
          - campaign: castigada
          - user: quiero PAGAR
          - bot: Gracias por tu pago
          - end: true
      - name: asks for an agent
        steps:
          - user: hola
          - user: "1012345678"
          - user: 2
          - bot: Te paso
          - handoff: {campaign: castigada, priority: 2, tags: [deuda], reason: flow}
    """
)


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    write(folder, "shop.yaml", SHOP)
    return folder


def run(flows_dir: Path, test_text: str, name_filter: str | None = None) -> tuple[Report, Path]:
    path = write(flows_dir / "tests", "shop_test.yaml", test_text)
    flows, _, problems = load_paths([flows_dir])
    assert not [p for p in problems if p.severity == "error"], problems
    return run_flow_tests([path], flows, name_filter=name_filter), path


def failure_of(report: Report):
    [result] = report.results
    assert result.failure is not None, "the case passed"
    return result.failure


def case(steps: str) -> str:
    """A test file with the fixtures and one case made of these steps."""
    body = "".join(f"      {line}\n" for line in dedent(steps).strip("\n").splitlines())
    return dedent(FIXTURES) + "cases:\n  - name: the case\n    steps:\n" + body


def test_a_passing_file(flows_dir: Path) -> None:
    report, _ = run(flows_dir, PASSING)
    assert [r.name for r in report.results] == ["known customer pays", "asks for an agent"]
    assert all(r.passed for r in report.results), [r.failure for r in report.results]
    assert report.ok and report.problems == []


def test_coverage_names_the_steps_no_case_visits(flows_dir: Path) -> None:
    report, _ = run(flows_dir, PASSING)
    flows, _, _ = load_paths([flows_dir])
    assert report.coverage(flows) == [("shop", 6, 8, ["unknown", "bye"])]


def test_name_filter_runs_only_matching_cases(flows_dir: Path) -> None:
    report, _ = run(flows_dir, PASSING, name_filter="AGENT")
    assert [r.name for r in report.results] == ["asks for an agent"]


def test_exact_text_mismatch_is_located_with_expected_and_actual(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - bot: "Hola Ana"
        """
    )
    report, _ = run(flows_dir, text)
    failure = failure_of(report)
    assert (failure.line, failure.col) == pos(text, 'bot: "Hola Ana"')
    assert failure.message == "bot message differs"
    assert failure.diff() == ["expected: 'Hola Ana'", "actual:   '¡Hola Cliente!'"]
    assert "customer: hola" in failure.transcript
    assert not report.ok


def test_multiline_mismatch_gets_a_unified_diff(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - user: "1012345678"
        - bot: "Ana, debes $150.000\\n1. Pagar\\n2. Un asesor"
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    diff = failure.diff()
    assert "-2. Un asesor" in diff and "+2. Asesor" in diff
    assert " 1. Pagar" in diff


def test_regex_mismatch(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - bot: /^Adiós/
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.line == pos(text, "/^Adiós/")[0]
    assert failure.message == "bot message does not match /^Adiós/"
    assert failure.actual == "¡Hola Cliente!"


def test_missing_bot_message(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - bot: /Hola/
        - bot: /documento/
        - bot: /algo más/
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.line == pos(text, "/algo más/")[0]
    assert "sent nothing more" in failure.message
    assert failure.actual == "(nothing)"


def test_unconsumed_messages_are_dropped_at_the_next_user_or_wait(flows_dir: Path) -> None:
    passing = case(
        """
        - user: hola
        - user: "1012345678"
        - bot: /debes/
        - wait: 15m
        - bot: ¿Sigues ahí?
        - wait: 15m
        - bot: Chao
        - end: true
        """
    )
    report, _ = run(flows_dir, passing)
    assert report.results[0].passed, report.results[0].failure
    # The greeting was never consumed, so after the next message it is gone.
    failing = case(
        """
        - user: hola
        - user: "1012345678"
        - bot: /Hola/
        """
    )
    failure = failure_of(run(flows_dir, failing)[0])
    assert failure.actual is not None and failure.actual.startswith("Ana, debes")


def test_slot_mismatches(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - user: 1.012.345.678
        - slots: {document: "1.012.345.678"}
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.message == "slot 'document' differs"
    assert failure.diff() == ["expected: \"'1.012.345.678'\"", "actual:   \"'1012345678'\""]

    text = case(
        """
        - user: hola
        - slots: {amount: 3}
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.message == "slot 'amount' is not set"
    assert failure.line == pos(text, "slots:")[0]


def test_handoff_field_mismatch(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - user: "1012345678"
        - user: Asesor
        - handoff: {campaign: castigada, priority: 5}
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.message == "handoff priority differs"
    assert (failure.expected, failure.actual) == ("5", "2")
    assert failure.line == pos(text, "handoff:")[0]


def test_expected_handoff_that_did_not_happen(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - handoff: true
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.message == "expected the chat to be handed to an agent"
    assert failure.actual == "active at step doc"


def test_handoff_reason_of_exhausted_attempts(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - user: "?"
        - bot: No entendí tu respuesta. Por favor intenta de nuevo.
        - user: "?"
        - user: "?"
        - bot: Te comunicaré con un asesor para que te ayude.
        - handoff: {campaign: null, reason: exhausted}
        """
    )
    report, _ = run(flows_dir, text)
    assert report.results[0].passed, report.results[0].failure


def test_end_mismatch(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - end: true
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.message == "expected the chat to be closed"
    assert failure.actual == "active at step doc"


def test_step_mismatch(flows_dir: Path) -> None:
    text = case(
        """
        - user: hola
        - step: menu
        """
    )
    failure = failure_of(run(flows_dir, text)[0])
    assert failure.message == "the chat is at another step"
    assert (failure.expected, failure.actual) == ("menu", "doc")


def test_a_later_case_runs_after_an_earlier_failure(flows_dir: Path) -> None:
    text = dedent(FIXTURES) + dedent(
        """
            cases:
              - name: fails
                steps: [{user: hola}, {bot: nope}]
              - name: passes
                steps: [{user: hola}, {step: doc}]
            """
    )
    report, _ = run(flows_dir, text)
    assert [r.passed for r in report.results] == [False, True]
    assert report.passed == 1 and report.failed == 1


# -- bad test files --------------------------------------------------------------------------


def problems_of(flows_dir: Path, text: str) -> Report:
    report, _ = run(flows_dir, text)
    assert report.results == []
    assert not report.ok
    return report


def test_schema_errors_in_a_test_file_are_located(flows_dir: Path) -> None:
    text = """
        flow: shop
        cases:
          - name: bad
            steps:
              - usr: hola
              - {user: hola, bot: hi}
              - wait: 15 minutes
          - steps: [{user: hola}]
        """
    report = problems_of(flows_dir, text)
    lines = {p.line for p in report.problems}
    assert pos(text, "usr")[0] in lines
    assert pos(text, "{user: hola, bot")[0] in lines
    assert pos(text, "15 minutes")[0] in lines
    assert pos(text, "- steps")[0] in lines


def test_unknown_flow_in_a_test_file(flows_dir: Path) -> None:
    text = """
        flow: shoop
        cases:
          - name: a
            steps: [{user: hola}]
        """
    [problem] = problems_of(flows_dir, text).problems
    assert problem.line == 1 and "shoop" in problem.message
    assert problem.hint == "did you mean 'shop'?"


def test_unknown_step_and_bad_regex_in_a_test_file(flows_dir: Path) -> None:
    text = """
        flow: shop
        cases:
          - name: a
            steps:
              - user: hola
              - step: menú
              - bot: /(unclosed/
              - wait: 0m
        """
    report = problems_of(flows_dir, text)
    problem = next(p for p in report.problems if "has no step" in p.message)
    assert problem.line == pos(text, "step: menú")[0] and problem.hint == "did you mean 'menu'?"
    problem = next(p for p in report.problems if "regular expression" in p.message)
    assert problem.line == pos(text, "/(unclosed/")[0]
    problem = next(p for p in report.problems if "zero" in p.message)
    assert (problem.line, problem.col) == pos(text, "0m")


def test_customer_fixture_without_a_document_is_a_problem(flows_dir: Path) -> None:
    text = """
        flow: shop
        customers:
          - {campaign: castigada, document: "  ", name: Ana}
        cases:
          - name: a
            steps: [{user: hola}]
        """
    [problem] = problems_of(flows_dir, text).problems
    assert (problem.line, problem.col) == pos(text, '"  "')


def test_empty_and_non_mapping_test_files(flows_dir: Path) -> None:
    for text in ("", "- user: hola\n", "flow: [\n"):
        report = problems_of(flows_dir, text)
        assert report.problems and all(p.line >= 1 for p in report.problems)


# -- subflows in tests -----------------------------------------------------------------------


def test_cases_can_stop_inside_a_called_flow_and_coverage_counts_it(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    write(
        folder,
        "main.yaml",
        """
        flow: main
        start: call
        steps:
          call: {type: flow, flow: survey, next: bye}
          bye: {type: end, text: "Gracias"}
        """,
    )
    write(
        folder,
        "survey.yaml",
        """
        flow: survey
        start: score
        steps:
          score:
            type: ask
            text: "¿Nota de 1 a 5?"
            slot: score
            validate: {type: integer, min: 1, max: 5}
          low: {type: say, text: "Lo sentimos"}
        """,
    )
    path = write(
        folder / "tests",
        "main_test.yaml",
        """
        flow: main
        cases:
          - name: survey
            steps:
              - user: hola
              - step: score
              - user: "5"
              - bot: Lo sentimos
              - bot: Gracias
              - end: true
        """,
    )
    flows, _, problems = load_paths([folder])
    assert isinstance(flows, FlowSet) and not problems
    report = run_flow_tests([path], flows)
    assert report.ok, [r.failure for r in report.results] + report.problems
    assert report.coverage(flows) == [("main", 2, 2, []), ("survey", 2, 2, [])]


def test_lookup_error_case_option_makes_every_lookup_fail(tmp_path):
    from centralita.bot.loader import load_paths
    from centralita.bot.testing import run_flow_tests

    from .helpers import write

    write(
        tmp_path / "flows",
        "f.yaml",
        """
        flow: f
        start: ask
        steps:
          ask: {type: ask, text: "Doc", slot: doc}
          find:
            type: lookup
            document: "{{ slots.doc }}"
            on: {found: ok, not_found: ok, error: broken}
          ok: {type: end, text: "Listo."}
          broken: {type: end, text: "Roto."}
        """,
    )
    write(
        tmp_path / "flows" / "tests",
        "f.yaml",
        """
        flow: f
        customers: [{campaign: c, document: "1"}]
        cases:
          - name: works
            steps: [{user: hola}, {user: "1"}, {bot: Listo.}]
          - name: fails
            lookup_error: true
            steps: [{user: hola}, {user: "1"}, {bot: Roto.}, {end: true}]
        """,
    )
    flows, _, _ = load_paths([tmp_path / "flows"])
    report = run_flow_tests([tmp_path / "flows" / "tests"], flows)
    assert report.ok, [r.failure for r in report.results]
    assert report.passed == 2
