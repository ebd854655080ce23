"""Validation of flow files: schema and semantic problems, each at the right line and column."""

from __future__ import annotations

from pathlib import Path

from centralita.bot.loader import load_paths

from .helpers import dedent, errors, flow_of, load, pos, problem_at, write

GOOD = """
    flow: good
    start: ask_name
    steps:
      ask_name:
        type: ask
        text: "¿Cómo te llamas?"
        slot: name
      bye: {type: end, text: "Chao {{ slots.name }}"}
    """


def test_a_valid_flow_has_no_problems() -> None:
    loaded = load(GOOD)
    assert loaded.problems == []
    assert loaded.flow is not None and loaded.flow.id == "good"


def test_unknown_step_target_has_a_did_you_mean_hint() -> None:
    text = """
        flow: f
        start: greet
        steps:
          greet: {type: say, text: "Hola", next: ask_documnet}
          ask_document: {type: ask, text: "¿Documento?", slot: document}
          bye: {type: end}
        """
    loaded = load(text)
    assert loaded.flow is None
    line, col = pos(text, "ask_documnet")
    problem = problem_at(loaded.problems, line, "unknown step 'ask_documnet'")
    assert problem.col == col
    assert problem.hint == "did you mean 'ask_document'?"


def test_unknown_targets_everywhere_are_reported() -> None:
    text = """
        flow: f
        start: strat
        settings:
          timeout: {after: 5m, then: gone}
        steps:
          menu:
            type: menu
            text: "Elige"
            on_exhausted: nowhere
            options:
              - {label: Uno, next: uno_step}
          check:
            type: branch
            branches: [{if: "attempt > 1", then: menu2}]
            else: check2
          find:
            type: lookup
            document: "1"
            on: {found: fund}
          bye: {type: end}
        """
    problems = load(text).problems
    for needle, fragment in [
        ("strat", "start names unknown step 'strat'"),
        ("gone", "timeout then names unknown step 'gone'"),
        ("nowhere", "on_exhausted names unknown step 'nowhere'"),
        ("uno_step", "option next names unknown step 'uno_step'"),
        ("menu2", "then names unknown step 'menu2'"),
        ("check2", "else names unknown step 'check2'"),
        ("fund", "on found names unknown step 'fund'"),
    ]:
        line, col = pos(text, needle)
        assert problem_at(problems, line, fragment).col == col


def test_branch_without_else_is_an_error_at_the_step() -> None:
    text = """
        flow: f
        start: check
        steps:
          check:
            type: branch
            branches:
              - {if: "slots.age >= 18", then: adult}
          adult: {type: end, text: "Bienvenido"}
          age_step: {type: ask, text: "¿Edad?", slot: age}
        """
    problems = load(text).problems
    line, _ = pos(text, "type: branch")
    problem = problem_at(problems, line, "has no else")
    assert "check" in problem.message
    assert problem.hint is not None and "else" in problem.hint


def test_unknown_step_type_suggests_the_closest() -> None:
    text = """
        flow: f
        start: s
        steps:
          s: {type: sya, text: "Hola"}
        """
    line, col = pos(text, "sya")
    problem = problem_at(load(text).problems, line, "unknown step type 'sya'")
    assert problem.col == col and problem.hint == "did you mean 'say'?"


def test_unknown_key_is_reported_at_the_key_with_a_hint() -> None:
    text = """
        flow: f
        start: s
        steps:
          s: {type: ask, text: "¿Nombre?", slot: name, max_atempts: 2}
        """
    line, col = pos(text, "max_atempts")
    problem = problem_at(load(text).problems, line, "unknown key 'max_atempts'")
    assert problem.col == col and problem.hint == "did you mean 'max_attempts'?"


def test_unreachable_step_is_only_a_warning_and_the_flow_still_loads() -> None:
    text = """
        flow: f
        start: greet
        steps:
          greet: {type: say, text: "Hola", next: bye}
          orphan: {type: say, text: "Nadie llega aquí", next: bye}
          bye: {type: end}
        """
    loaded = load(text)
    line, col = pos(text, "orphan")
    problem = problem_at(loaded.problems, line, "unreachable")
    assert problem.severity == "warning" and problem.col == col
    assert errors(loaded.problems) == []
    assert loaded.flow is not None


def test_invalid_regex_is_located_at_the_pattern() -> None:
    text = """
        flow: f
        start: code
        steps:
          code:
            type: ask
            text: "¿Código?"
            slot: code
            validate: {pattern: "[A-Z{3"}
          bye: {type: end}
        """
    line, col = pos(text, '"[A-Z{3"')
    problem = problem_at(load(text).problems, line, "invalid regular expression")
    assert problem.col == col


def test_invalid_template_syntax_is_located() -> None:
    text = """
        flow: f
        start: s
        steps:
          s: {type: say, text: "Hola {{ contact.profile_name ", next: bye}
          bye: {type: end, text: "Debes {{ customer.balance | mony }}"}
        """
    problems = load(text).problems
    line, col = pos(text, '"Hola {{')
    assert problem_at(problems, line, "invalid template").col == col
    line, _ = pos(text, "mony")
    problem = problem_at(problems, line, "filter named 'mony'")
    assert problem.hint == "did you mean 'money'?"


def test_template_error_in_a_block_text_points_at_its_line() -> None:
    text = """
        flow: f
        start: s
        steps:
          s:
            type: say
            text: |
              Hola {{ contact.profile_name }},
              tu saldo es {{ customer.balance | money( }}.
              Gracias.
            next: bye
          bye: {type: end}
        """
    problems = load(text).problems
    line, col = pos(text, "tu saldo")
    problem = problem_at(problems, line, "invalid template")
    assert problem.col == col


def test_template_error_in_a_quoted_multiline_text_stays_inside_the_file() -> None:
    text = 'flow: f\nstart: s\nsteps:\n  s: {type: say, text: "a\\n\\n\\n\\n{{ x( "}\n'
    [problem] = [p for p in load(text).problems if "invalid template" in p.message]
    assert problem.line == 4


def test_invalid_condition_is_located() -> None:
    text = """
        flow: f
        start: check
        steps:
          check:
            type: branch
            branches:
              - {if: "attempt >", then: bye}
              - {if: "attempt = 2", then: bye}
            else: bye
          bye: {type: end}
        """
    problems = load(text).problems
    assert problem_at(problems, pos(text, '"attempt >"')[0], "invalid condition")
    assert problem_at(problems, pos(text, '"attempt = 2"')[0], "invalid condition")


def test_unknown_names_in_templates_and_conditions_are_errors_with_hints() -> None:
    text = """
        flow: f
        start: s
        steps:
          s: {type: say, text: "Hola {{ costumer.name }}", next: check}
          check:
            type: branch
            branches: [{if: "slot.age > 3", then: bye}]
            else: bye
          bye: {type: end}
        """
    problems = load(text).problems
    problem = problem_at(problems, pos(text, "costumer")[0], "unknown name 'costumer' in template")
    assert problem.hint == "did you mean 'customer'?"
    problem = problem_at(problems, pos(text, '"slot.age')[0], "unknown name 'slot' in condition")
    assert problem.hint == "did you mean 'slots'?"


def test_names_a_template_defines_itself_are_known() -> None:
    flow_of(
        """
        flow: f
        start: s
        steps:
          s:
            type: say
            text: |
              {% set total = 3 %}{% for c in candidates %}{{ loop.index }}. {{ c.campaign.name }}
              {% endfor %}{{ total }} {{ range(2) | list }} {{ now.year }} {{ attempt }}
            next: bye
          bye: {type: end}
        """
    )


def test_undefined_catalog_message_has_a_hint() -> None:
    text = """
        flow: f
        messages:
          greeting: "¡Hola!"
        start: s
        steps:
          s: {type: say, text: greting, next: bye}
          bye: {type: end, text: farewell}
        """
    problems = load(text).problems
    line, col = pos(text, "greting")
    problem = problem_at(problems, line, "undefined message 'greting'")
    assert problem.col == col and problem.hint == "did you mean 'greeting'?"
    assert problem_at(problems, pos(text, "farewell")[0], "undefined message 'farewell'")


def test_catalog_message_is_used() -> None:
    flow = flow_of(
        """
        flow: f
        messages:
          greeting: "¡Hola {{ contact.profile_name }}!"
        start: s
        steps:
          s: {type: say, text: greeting, next: bye}
          bye: {type: end}
        """
    )
    assert flow.steps["s"].text.variants["es"].source == "¡Hola {{ contact.profile_name }}!"  # type: ignore[attr-defined]


def test_bad_durations_are_located() -> None:
    text = """
        flow: f
        start: ask
        settings:
          timeout: {after: 0m}
        steps:
          ask:
            type: ask
            text: "¿Nombre?"
            slot: name
            timeout: {after: 15 minutes, then: bye}
          ask2:
            type: ask
            text: "¿Edad?"
            slot: age
            timeout: {after: 0s, then: bye}
          bye: {type: end}
        """
    problems = load(text).problems
    assert problem_at(problems, pos(text, "0m")[0], "'0m' is zero")
    problem_at(problems, pos(text, "15 minutes")[0], "'15 minutes'")
    problem_at(problems, pos(text, "0s")[0], "'0s' is zero")
    assert errors(problems)


def test_text_in_an_undeclared_language_and_a_missing_default_variant() -> None:
    text = """
        flow: f
        language: es
        languages: [es, en]
        start: s
        steps:
          s: {type: say, text: {en: "Hi", fr: "Salut"}, next: bye}
          bye: {type: end, text: {es: "Chao"}}
        """
    problems = load(text).problems
    line, _ = pos(text, "fr:")
    assert problem_at(problems, line, "language 'fr'").severity == "error"
    assert problem_at(problems, line, "no variant in the flow's language 'es'")
    warning = problem_at(problems, pos(text, "Chao")[0], "no 'en' variant")
    assert warning.severity == "warning"


def test_menu_needs_options_or_options_from() -> None:
    text = """
        flow: f
        start: pick
        steps:
          pick: {type: menu, text: "Elige"}
          bye: {type: end}
        """
    assert problem_at(load(text).problems, pos(text, "pick:")[0], "exactly one of options")


def test_a_waitless_loop_is_an_error() -> None:
    text = """
        flow: f
        start: count
        steps:
          count: {type: set, values: {n: "{{ (slots.n or 0) + 1 }}"}}
          again: {type: say, text: "Otra vez"}
          check:
            type: branch
            branches: [{if: "slots.n < 100000", then: count}]
            else: ask
          ask: {type: ask, text: "¿Algo más?", slot: more, next: count}
        """
    problems = load(text).problems
    problem = problem_at(problems, pos(text, "count:")[0], "loop without waiting")
    assert "count -> again -> check -> count" in problem.message


def test_a_loop_through_a_question_is_fine() -> None:
    flow_of(
        """
        flow: f
        start: ask
        steps:
          ask: {type: ask, text: "¿Número?", slot: n, validate: {type: integer}}
          check:
            type: branch
            branches: [{if: "slots.n == 0", then: bye}]
            else: ask
          bye: {type: end}
        """
    )


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = """
        flow: Bad Id
        start: s
        steps:
          s: {type: say, text: "{{ oops", next: nowhere}
          t: {type: ask, text: nope_message, slot: x, validate: {pattern: "("}}
          u: {type: branch, branches: [{if: "1 +", then: s}]}
        """
    problems = load(text).problems
    problem_at(problems, pos(text, "Bad Id")[0], "'Bad Id'")
    problem_at(problems, pos(text, "{{ oops")[0], "invalid template")
    problem_at(problems, pos(text, "nowhere")[0], "unknown step 'nowhere'")
    problem_at(problems, pos(text, "nope_message")[0], "undefined message")
    problem_at(problems, pos(text, '"("')[0], "invalid regular expression")
    problem_at(problems, pos(text, "u:")[0], "has no else")
    problem_at(problems, pos(text, '"1 +"')[0], "invalid condition")


# -- checks across files ---------------------------------------------------------------------


def test_slot_never_set_by_any_flow(tmp_path: Path) -> None:
    text = """
        flow: f
        start: ask
        steps:
          ask: {type: ask, text: "¿Nombre?", slot: name}
          check:
            type: branch
            branches: [{if: "slots['age'] > 17", then: bye}]
            else: bye
          bye: {type: end, text: "Chao {{ slots.nmae }} {{ slots.name }}"}
        """
    write(tmp_path, "f.yaml", text)
    _, _, problems = load_paths([tmp_path])
    problem = problem_at(problems, pos(text, "Chao")[0], "slot 'nmae' is never set")
    assert problem.hint == "did you mean 'name'?"
    problem_at(problems, pos(text, "slots['age']")[0], "slot 'age' is never set")
    assert not any("'name'" in p.message for p in problems)


def test_slot_set_by_another_flow_counts(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.yaml",
        """
        flow: main
        start: ask
        steps:
          ask: {type: ask, text: "¿Nombre?", slot: name}
          sub: {type: flow, flow: sub, next: bye}
          bye: {type: end}
        """,
    )
    write(
        tmp_path,
        "sub.yaml",
        """
        flow: sub
        start: s
        steps:
          s: {type: say, text: "Hola {{ slots.name }}"}
        """,
    )
    flows, _, problems = load_paths([tmp_path])
    assert errors(problems) == []
    assert sorted(flows.flows) == ["main", "sub"]


def test_unknown_flow_and_call_cycles_across_files(tmp_path: Path) -> None:
    a = """
        flow: alpha
        start: call_beta
        steps:
          call_beta: {type: flow, flow: beta, next: call_missing}
          call_missing: {type: flow, flow: gama, next: bye}
          bye: {type: end}
        """
    b = """
        flow: beta
        start: back
        steps:
          back: {type: flow, flow: alpha}
        """
    c = """
        flow: gamma
        start: s
        steps:
          s: {type: say, text: "Hola"}
        """
    write(tmp_path, "a.yaml", a)
    write(tmp_path, "b.yaml", b)
    write(tmp_path, "c.yaml", c)
    flows, _, problems = load_paths([tmp_path])
    a_problems = [p for p in problems if p.file.endswith("a.yaml")]
    b_problems = [p for p in problems if p.file.endswith("b.yaml")]
    line, col = pos(a, "gama")
    unknown = problem_at(a_problems, line, "unknown flow 'gama'")
    assert unknown.col == col and unknown.hint == "did you mean 'gamma'?"
    assert problem_at(a_problems, pos(a, "flow: beta")[0], "flow call cycle")
    assert problem_at(b_problems, pos(b, "flow: alpha")[0], "flow call cycle")
    # Broken flows are not served; the good one is.
    assert sorted(flows.flows) == ["gamma"]


def test_a_flow_calling_itself_is_a_cycle(tmp_path: Path) -> None:
    text = """
        flow: loop
        start: again
        steps:
          again: {type: flow, flow: loop, next: bye}
          bye: {type: end}
        """
    write(tmp_path, "loop.yaml", text)
    _, _, problems = load_paths([tmp_path])
    assert problem_at(problems, pos(text, "flow: loop", 2)[0], "flow call cycle: loop -> loop")


def test_duplicate_flow_ids_across_files(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", GOOD)
    two = write(tmp_path, "two.yaml", "# a copy\n" + dedent(GOOD))
    flows, _, problems = load_paths([tmp_path])
    [problem] = errors(problems)
    assert problem.file == str(two) and problem.line == 2
    assert str(one) in problem.message
    assert flows.current("good") is not None and flows.current("good").path == str(one)


def test_last_step_without_next_warns_in_a_top_level_flow(tmp_path: Path) -> None:
    text = """
        flow: f
        start: s
        steps:
          s: {type: say, text: "Hola"}
        """
    write(tmp_path, "f.yaml", text)
    flows, _, problems = load_paths([tmp_path])
    [problem] = problems
    assert problem.severity == "warning" and "last step" in problem.message
    assert flows.current("f") is not None
