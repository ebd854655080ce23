"""What `validate` says and where: condition syntax in Jinja's words, names located inside
block texts, the shapes a text may have, and checks that stay fast on very long flows."""

from __future__ import annotations

import time

from centralita.bot.checks import FlowChecker
from centralita.bot.yamlsrc import load as load_yaml

from .helpers import dedent, errors, flow_of, load, pos, problem_at


def test_a_condition_error_is_worded_as_jinja_words_it_without_the_wrapper() -> None:
    text = """
        flow: f
        start: check
        steps:
          check:
            type: branch
            branches:
              - {if: "slots.x > ", then: bye}
              - {if: "(slots.x", then: bye}
              - {if: "slots.x)", then: bye}
            else: bye
          bye: {type: end}
        """
    problems = load(text).problems
    problem = problem_at(problems, pos(text, "slots.x > ")[0], "invalid condition")
    assert problem.message == "invalid condition: unexpected 'end of template'"
    problem = problem_at(problems, pos(text, '"(slots.x"')[0], "invalid condition")
    assert problem.message == "invalid condition: unexpected end of template, expected ')'."
    problem = problem_at(problems, pos(text, '"slots.x)"')[0], "invalid condition")
    assert problem.message == "invalid condition: unexpected ')'"


def test_an_unknown_name_in_a_block_text_points_at_its_line() -> None:
    text = """
        flow: f
        start: s
        steps:
          s:
            type: say
            text: |
              Hola {{ contact.profile_name }},
              tu saldo es {{ costumer.balance | money }}.
            next: bye
          bye: {type: end}
        """
    problems = load(text).problems
    line, col = pos(text, "tu saldo")
    problem = problem_at(problems, line, "unknown name 'costumer'")
    assert problem.col == col
    assert problem.hint == "did you mean 'customer'?"


def test_an_unknown_name_in_a_block_condition_points_at_its_line() -> None:
    text = """
        flow: f
        start: check
        steps:
          check:
            type: branch
            branches:
              - if: |
                  slots.edad > 18
                  and costumer.activo
                then: bye
            else: bye
          bye: {type: end}
        """
    problems = load(text).problems
    line, col = pos(text, "and costumer")
    assert problem_at(problems, line, "unknown name 'costumer' in condition").col == col


def test_a_quoted_text_keeps_its_problems_at_its_start() -> None:
    text = 'flow: f\nstart: s\nsteps:\n  s: {type: end, text: "a\\n\\nb {{ costumer }}"}\n'
    [problem] = errors(load(text).problems)
    assert (problem.line, problem.col) == (4, 24)


def test_names_a_macro_defines_are_known() -> None:
    flow_of(
        """
        flow: f
        start: s
        steps:
          s:
            type: end
            text: "{% macro b(x) %}*{{ x }}*{{ varargs|length }}{% endmacro %}{{ b(slots.n) }}"
        """.replace("slots.n", "contact.phone")
    )


def test_a_text_of_the_wrong_type_says_what_a_text_may_be() -> None:
    text = """
        flow: f
        start: a
        steps:
          a: {type: say, text: 5, next: b}
          b: {type: say, text: {es: 5}, next: c}
          c: {type: ask, text: [hola], slot: x, invalid: [7], next: d}
          d: {type: end}
        """
    problems = load(text).problems
    problem = problem_at(problems, pos(text, "text: 5")[0], "text must be")
    assert problem.message == "step 'a' text must be a text or {language: text}, not a number"
    problem = problem_at(problems, pos(text, "{es: 5}")[0], "text.es must be")
    assert problem.message == "step 'b' text.es must be a text, not a number"
    problem = problem_at(problems, pos(text, "[hola]")[0], "text must be")
    assert problem.message == "step 'c' text must be a text or {language: text}, not a list"
    problem = problem_at(problems, pos(text, "[7]")[0], "invalid[0] must be")
    assert problem.message == (
        "step 'c' invalid[0] must be a text or {language: text}, not a number"
    )
    assert not any("not valid under any" in p.message for p in problems)


def _long_flow(steps: int) -> str:
    lines = ["flow: big", "start: s0", "steps:"]
    lines += [f"  s{i}: {{type: say, text: 'Paso {i}'}}" for i in range(steps)]
    lines.append("  fin: {type: end, text: Bye.}")
    return "\n".join(lines) + "\n"


def test_checking_a_very_long_flow_takes_linear_time() -> None:
    # 14,000 steps took 4-7 s when each step's successor was found with list.index.
    doc = load_yaml(_long_flow(14_000))
    start = time.perf_counter()
    problems, _ = FlowChecker(doc, "big.yaml").run()
    elapsed = time.perf_counter() - start
    assert errors(problems) == []
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_a_long_loop_is_still_found() -> None:
    text = dedent(
        "flow: f\nstart: s0\nsteps:\n"
        + "".join(f"  s{i}: {{type: say, text: hi}}\n" for i in range(2000))
        + "  s2000: {type: branch, branches: [{if: 'attempt', then: s0}], else: s0}\n"
    )
    problems = load(text).problems
    assert problem_at(problems, 4, "steps loop without waiting for the customer")


def test_reserved_step_ids_are_explained() -> None:
    text = "flow: f\nstart: __mio\nsteps:\n  __mio: {type: end}\n"
    problems = load(text).problems
    problem = problem_at(problems, 4, "'__mio' in steps is not valid")
    assert "not starting with a digit or with __ (reserved for the engine)" in problem.message
