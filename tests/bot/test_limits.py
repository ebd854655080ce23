"""Resource limits on templates: nothing a flow author writes or a customer types may stall a
worker or fill its memory. Each attack must fail fast, with a message naming the limit: at
validation when the template spells it out, else as a handoff when the chat runs into it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2.exceptions import TemplateError

from centralita.bot import effects as fx
from centralita.bot import templates
from centralita.bot.durations import DurationError, parse_duration
from centralita.bot.templates import (
    ENV,
    MAX_OUTPUT_CHARS,
    MAX_RANGE,
    RenderError,
    base_context,
    compile_expression,
    compile_template,
)

from .helpers import Chat, dedent, errors, flow_of, load, only, pos, problem_at

FAST = 3.0  # seconds: generous for a loaded machine; the attacks took minutes or forever


@contextmanager
def quickly(limit: float = FAST) -> Iterator[None]:
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.2f} s"


def context(**slots: Any) -> dict[str, Any]:
    return {**base_context(), "slots": slots, "customer": None, "contact": {"phone": "+57"}}


def render_error(source: str, **slots: Any) -> str:
    """The RenderError message of rendering `source`, which must fail (and fast)."""
    with quickly():
        template = compile_template(source)
        with pytest.raises(RenderError) as failure:
            template.render(context(**slots))
    return str(failure.value)


def compile_error(source: str, *, expression: bool = False) -> str:
    with quickly(), pytest.raises(TemplateError) as failure:
        (compile_expression if expression else compile_template)(source)
    return str(failure.value)


def say_flow(text: str) -> str:
    return dedent(
        f"""
        flow: f
        start: s
        steps:
          s: {{type: say, text: {text!r}, next: bye}}
          bye: {{type: end}}
        """
    )


# -- validation: limits a template spells out ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{{ 7 ** 999999999 }}", "numbers are limited to 4,000 digits"),
        ("{{ 'x' * 500000000 }}", "500,000,000 characters; the limit is 10,000"),
        ("{{ '%0900000000d' % 1 }}", "widths adding up to 900,000,000"),
        ("{{ 'x'|center(900000000) }}", "a centered text would have 900,000,000"),
        ("{{ 'x'|indent(900000000) }}", "the limit is 10,000"),
        ("{{ [1]|batch(999999999, 'x')|list }}", "a batch would have 999,999,999 items"),
        ("{{ [1]|slice(999999999)|list }}", "999,999,999 slices"),
        ("{{ 7|round(-999999999) }}", "the limit is 100"),
        ("{{ '%s'|format(1) ~ ('%099999d'|format(1)) }}", "widths adding up to 99,999"),
        ("{{ [1, 2]|tojson(indent=999999999) }}", "an indented text"),
        ("{{ ('x' * 6000) + ('y' * 6000) }}", "12,000 characters"),
        ("{{ 'ab'|replace('', 'x' * 9000) }}", "27,002 characters"),
        ("{{ '%*d' % (999999999, 1) }}", "'*' widths are not allowed"),
        ("{{ (2 ** 13000) * (2 ** 13000) }}", "more than 4,000 digits"),
        ("{{ 10 ** 5000 }}", "numbers are limited to 4,000 digits"),
    ],
)
def test_constant_attacks_are_located_validation_errors(source: str, words: str) -> None:
    text = say_flow(source)
    with quickly():
        problems = load(text).problems
    problem = problem_at(problems, pos(text, "{{")[0], "limit exceeded")
    assert words in problem.message
    assert problem.col == pos(text, "{{")[1] - 1  # at the (quoted) text


def test_a_constant_attack_in_a_block_text_points_at_its_line() -> None:
    text = """
        flow: f
        start: s
        steps:
          s:
            type: say
            text: |
              Hola.
              Tu número: {{ 7 ** 999999999 }}
            next: bye
          bye: {type: end}
        """
    problems = load(text).problems
    line, col = pos(text, "Tu número")
    assert problem_at(problems, line, "numbers are limited").col == col


def test_validating_an_attack_does_not_hang_the_cli(tmp_path) -> None:
    from click.testing import CliRunner

    from centralita.cli import main

    (tmp_path / "f.yaml").write_text(say_flow("{{ 7 ** 999999999 }} {{ 'x' * 500000000 }}"))
    with quickly(10):
        result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code != 0
    assert "limit exceeded" in result.output


# -- run time: limits customer data runs into ---------------------------------------------------


ASK_THEN_SAY = """
    flow: f
    start: ask
    steps:
      ask: {{type: ask, text: "¿Número?", slot: n, next: show}}
      show: {{type: say, text: {text!r}, next: bye}}
      bye: {{type: end, text: Listo.}}
    """


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{{ 7 ** (slots.n | int) }}", "numbers are limited to 4,000 digits"),
        ("{{ (range(999)|join(',')) * (slots.n | int) }}", "the limit is 10,000"),
        ("{{ slots.n * (slots.n | int) }}", "the limit is 10,000"),
        ("{{ 'x'.ljust(slots.n | int) }}", "a padded text would have 999,999,999"),
        ("{{ '{:>' ~ slots.n ~ '}' }}{{ ('{:>' ~ slots.n ~ '}').format(1) }}", "widths"),
        ("{% for i in range(slots.n | int) %}.{% endfor %}", "range() would have 999,999,999"),
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "more than 10,000 loop iterations and calls",
        ),
        ("{{ slots.n|center(slots.n|int) }}", "a centered text"),
    ],
)
def test_customer_data_that_hits_a_limit_hands_the_chat_off(text: str, words: str) -> None:
    chat = Chat(flow_of(ASK_THEN_SAY.format(text=text)))
    chat.start()
    with quickly():
        turn = chat.send("999999999")
    [error] = only(turn.effects, fx.FlowError)
    assert words in error.message
    assert only(turn.effects, fx.Handoff), turn.effects


def test_a_condition_that_hits_a_limit_hands_the_chat_off() -> None:
    flow = flow_of(
        """
        flow: f
        start: ask
        steps:
          ask: {type: ask, text: "¿Número?", slot: n, next: check}
          check:
            type: branch
            branches: [{if: "7 ** (slots.n | int) > 1", then: bye}]
            else: bye
          bye: {type: end, text: Listo.}
        """
    )
    chat = Chat(flow)
    chat.start()
    with quickly():
        turn = chat.send("999999999")
    [error] = only(turn.effects, fx.FlowError)
    assert "numbers are limited to 4,000 digits" in error.message


@pytest.mark.parametrize(
    ("source", "words"),
    [
        # Exponential work with a small source.
        (
            "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
            "{{ f(40) }}",
            "limit exceeded: the template",  # 10,000 calls, or 0.5 s on a busy machine
        ),
        (
            "{% set a = [1] %}" + "{% set a = [a, a] %}" * 40 + "{{ a == a }}",
            "items and characters",
        ),
        (
            "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}"
            "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
            "items and characters",
        ),
        (
            "{% set ns = namespace(d={}) %}{% for i in range(60) %}"
            "{% set ns.d = dict(a=ns.d, b=ns.d) %}{% endfor %}x",
            "items and characters",
        ),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}x",
            "16,384 characters; the limit is 10,000",
        ),
        (
            "{% macro m() %}{{ varargs|length }}{% endmacro %}{% set ns = namespace(a=[1]) %}"
            "{% for i in range(40) %}{% set ns.a = [ns.a, ns.a] %}{{ m(ns.a, ns.a) }}{% endfor %}",
            "the limit is 10,000",
        ),
        (
            "{% set x %}{% for i in range(1000) %}" + "y" * 100 + "{% endfor %}{% endset %}.",
            "100,000 characters; the limit is 10,000",
        ),
        ("{% for x in [1] recursive %}{{ loop(range(1000)) }}{% endfor %}", ""),
        # Texts and lists a single operation makes big.
        ("{{ (range(1000)|list) * 20 }}", "20,000 items"),
        ("{{ slots.nums * 9999 }}", "29,997 items"),
        ("{{ [slots.big] * 2 }}", "the limit is 10,000"),
        ("{{ slots.s.replace('', 'x' * 9000) }}", "27,002 characters"),
        ("{{ '-'.join([slots.big, slots.big]) }}", "the limit is 10,000"),
        ("{{ (slots.big ~ '') .zfill(20000) }}", "a padded text"),
        ("{{ slots.tabs.expandtabs(999999999) }}", "a text built by the template"),
        ("{{ ('\\t' * 100).expandtabs(999) }}", "100,000 characters"),
        ("{{ slots.s.translate({97: slots.big}) }}", "the limit is 10,000"),
        ("{{ slots.s.encode('punycode') }}", "encoding 'punycode' is not allowed"),
        ("{{ (5).to_bytes(999999999, 'big') }}", "999,999,999"),
        ("{{ '{:>999999999}'.format(1) }}", "widths adding up to 999,999,999"),
        ("{{ '{0:{1}}'.format(1, 999999999) }}", "widths adding up to 999,999,999"),
        ("{{ '{x:>99999}'.format_map({'x': 1}) }}", "widths adding up to 99,999"),
        ("{{ slots.big|wordwrap(1, wrapstring=slots.big) }}", "a wrapped text"),
        ("{{ slots.big|urlize(target=slots.big) }}", "a text with links"),
        ("{{ slots.big|indent(slots.big) }}", "an indented text"),
        ("{{ slots.amp|e }}", "15,000 characters; the limit is 10,000"),
        ("{{ slots.amp|e|replace('&', '&&&&') }}", "the limit is 10,000"),
        ("{{ '%*d' % (slots.nums[0], 1) }}", "'*' widths are not allowed"),
        ("{{ slots.big|list|join(slots.big) }}", "a joined text"),
        ("{{ slots.nums|join(slots.big * 0 ~ 'x' * 6000) }}", "a joined text"),
        ("{{ slots.nums|batch(9999, slots.big)|list }}", "a batch"),
        ("{{ slots.nums|slice(99999)|list }}", "99,999 slices"),
        ("{{ 1|money('$', 999) }}", "money with 999 decimals"),
        # Numbers.
        ("{{ (2 ** (slots.nums[0] * 8000)) * (2 ** 8000) }}", "more than 4,000 digits"),
        ("{{ 10 ** (slots.nums[2] * 2500) }}", "numbers are limited to 4,000 digits"),
        # What a text renders to.
        ("{{ 'x' * 5000 }}", f"the limit is {MAX_OUTPUT_CHARS:,}"),
        ("{% for i in range(500) %}0123456789{% endfor %}", f"the limit is {MAX_OUTPUT_CHARS:,}"),
        ("{{ slots.big }}", f"the limit is {MAX_OUTPUT_CHARS:,}"),
        # range() and the globals that are gone.
        (f"{{{{ range({MAX_RANGE + 1})|length }}}}", "range() would have 1,001 numbers"),
        ("{{ lipsum(5) }}", "'lipsum' is undefined"),
        ("{{ cycler(1, 2).next() }}", "'cycler' is undefined"),
        ("{{ joiner()() }}", "'joiner' is undefined"),
    ],
)
def test_run_time_attacks_fail_fast_naming_the_limit(source: str, words: str) -> None:
    slots = {"s": "ab", "nums": [1, 2, 3], "big": "y" * 9000, "amp": "&" * 3000, "tabs": "a\tb"}
    message = render_error(source, **slots)
    assert words in message


def test_the_limits_leave_ordinary_templates_alone() -> None:
    ctx = context(n=7, s="Ana María", nums=[3, 1, 2], big="y" * 9000)
    cases = {
        "{{ 2 ** 10 }} {{ 10 ** 3999 > 0 }}": "1024 True",
        "{{ range(1000)|length }} {{ range(1000)|sum }}": "1000 499500",
        "{{ 'x' * 4096 == 'x' * 4096 }}": "True",
        # 9,000 iterations and 91 calls of range(): just under the 10,000 steps
        "{% for i in range(90) %}{% for j in range(100) %}{% endfor %}{% endfor %}ok": "ok",
        "{{ slots.s|center(11) }}|{{ slots.s.ljust(10, '.') }}": " Ana María |Ana María.",
        "{{ '%05.1f|%-4s|' % (2.25, 'a') }}{{ '{:>5}'.format(slots.n) }}": "002.2|a   |    7",
        "{{ slots.nums|join(', ') }} {{ slots.nums * 2 }}": "3, 1, 2 [3, 1, 2, 3, 1, 2]",
        "{% set ns = namespace(t='') %}{% for c in 'abc' %}{% set ns.t = ns.t ~ c %}"
        "{% endfor %}{{ ns.t }}": "abc",
        "{{ slots.big|length }} {{ (slots.big ~ '')[:3] }}": "9000 yyy",
        "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(slots.n) }}": "<7>",
        "{{ 'x' * 4096 }}": "x" * 4096,
    }
    for source, expected in cases.items():
        assert compile_template(source).render(ctx) == expected, source


def test_a_render_over_the_time_limit_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "MAX_RENDER_SECONDS", 0.0)
    message = render_error("{% for i in range(3) %}{{ i }}{% endfor %}")
    assert "took longer than 0 s to render" in message


def test_memory_and_recursion_errors_become_render_errors() -> None:
    class Boom:
        @property
        def memory(self) -> None:
            raise MemoryError

        @property
        def recursion(self) -> None:
            raise RecursionError

    for attribute, words in (("memory", "ran out of memory"), ("recursion", "recursion")):
        for source in (
            f"{{{{ slots.b.{attribute} }}}}",
            f"{{% if 1 %}}{{{{ slots.b.{attribute} }}}}{{% endif %}}{{% set x = 1 %}}",
        ):
            template = compile_template(source)
            with pytest.raises(RenderError, match=words):
                template.render(context(b=Boom()))
        with pytest.raises(RenderError, match=words):
            compile_expression(f"slots.b.{attribute}").value(context(b=Boom()))


def test_memory_and_recursion_errors_while_compiling_become_limits() -> None:
    for error in (MemoryError(), RecursionError(), OverflowError("big")):
        with (
            pytest.raises(templates.LimitExceeded, match="limit exceeded: template too"),
            templates._Compiling(),
        ):
            raise error


# -- deep and long templates --------------------------------------------------------------------

DEEP = {
    "parentheses": "{{ " + "(" * 300 + "1" + ")" * 300 + " }}",
    "additions": "{{ 1" + "+1" * 3000 + " }}",
    "nots": "{{ " + "not " * 2000 + "1 }}",
    "minuses": "{{ " + "-" * 2000 + "1 }}",
    "brackets": "{{ " + "[" * 400 + "1" + "]" * 400 + " }}",
    "attributes": "{{ x" + ".a" * 5000 + " }}",
    "filters": "{{ x" + "|upper" * 3000 + " }}",
    "attributes-short": "{{ x" + ".a" * 150 + " }}",
    "ifs": "{% if 1 %}" * 40 + "x" + "{% endif %}" * 40,
    "else-ifs": "{{ " + "1 if x else " * 600 + "2 }}",
    "calls": "{{ " + "f(" * 300 + ")" * 300 + " }}",
}
DEEP_WORDS = ("too deeply nested", "the limit is 8,192")


@pytest.mark.parametrize("source", list(DEEP.values()), ids=list(DEEP))
def test_deep_or_long_templates_are_errors_not_crashes(source: str) -> None:
    assert any(words in compile_error(source) for words in DEEP_WORDS)
    inner = source.removeprefix("{{ ").removesuffix(" }}")
    if "{%" not in inner:
        assert any(words in compile_error(inner, expression=True) for words in DEEP_WORDS)


@pytest.mark.parametrize("source", list(DEEP.values()), ids=list(DEEP))
def test_deep_templates_are_located_validation_problems(source: str) -> None:
    text = say_flow(source)
    with quickly():
        problems = errors(load(text).problems)
    assert problems and any(w in problems[0].message for w in DEEP_WORDS), problems
    assert problems[0].line == pos(text, "text:")[0]
    inner = source.removeprefix("{{ ").removesuffix(" }}")
    if "{%" not in inner:
        condition = dedent(
            f"""
            flow: f
            start: c
            steps:
              c: {{type: branch, branches: [{{if: {inner!r}, then: e}}], else: e}}
              e: {{type: end}}
            """
        )
        problems = errors(load(condition).problems)
        assert problems and any(w in problems[0].message for w in DEEP_WORDS), problems
        assert problems[0].line == 4


def _at_depth(frames: int, run: Callable[[], Any]) -> Any:
    return run() if frames <= 0 else _at_depth(frames - 1, run)


def test_templates_just_inside_the_limits_work_even_on_a_deep_stack() -> None:
    """What validation accepts must compile and render wherever the caller is on the stack
    (build, the engine): the limits leave room below Python's recursion limit."""
    accepted = [
        "{{ " + "(" * 19 + "slots.n" + ")" * 19 + " }}",
        "{{ " + "[" * 19 + "slots.n" + "]" * 19 + " }}",
        "{{ slots.n" + " + 1" * 94 + " }}",
        "{{ slots" + ".n" * 94 + " }}",
        "{{ slots.n" + "|string" * 94 + " }}",
        "{% if 1 %}" * 19 + "{{ slots.n }}" + "{% endif %}" * 19,
        "{{ " + "f(" * 18 + ")" * 18 + " }}",
        "{{ " + "not " * 18 + "1 }}",
        "{{ " + "1 if slots.n else " * 95 + "2 }}",
    ]
    # The deepest of these needs about 400 frames: a caller 550 frames deep still has room.
    depth = sys.getrecursionlimit() - 450
    for source in accepted:
        template = _at_depth(depth, lambda s=source: compile_template(s))
        try:
            _at_depth(depth, lambda t=template: t.render(context(n=1)))
        except RenderError as exc:
            assert "recursion" not in str(exc)


def test_long_texts_are_errors() -> None:
    assert "the limit is 8,192" in compile_error("{{ 1 }}" + "x" * 9000)
    assert "the limit is 4,096" in compile_error("x" * 5000)  # a constant text is sent as is
    compile_template("{{ 1 }}" + "x" * 8000)
    compile_template("x" * 4096)


# -- globals ------------------------------------------------------------------------------------


def test_only_range_dict_and_namespace_remain_as_globals() -> None:
    assert set(base_context()) == {"range", "dict", "namespace"}
    text = dedent(
        """
        flow: f
        start: s
        steps:
          s: {type: say, text: "{{ lipsum(2) }}{{ range(3)|list }}{{ dict(a=1) }}", next: c}
          c:
            type: branch
            branches: [{if: "cycler(1) and joiner() and namespace(a=1).a", then: e}]
            else: e
          e: {type: end}
        """
    )
    problems = load(text).problems
    for name, line in (("lipsum", 4), ("cycler", 7), ("joiner", 7)):
        problem = problem_at(problems, line, f"unknown name {name!r}")
        assert problem.hint is not None and "dict, namespace, range" in problem.hint
    assert not any("'range'" in p.message or "'namespace'" in p.message for p in problems)


# -- the property: any mix of the dangerous operators terminates quickly ------------------------

ATOMS = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "7",
        "-3",
        "999999999",
        "18446744073709551616",
        "2.5",
        "'x'",
        "''",
        "'%0900000000d'",
        "'%s%s'",
        "[1, 2]",
        "[]",
        "slots.n",
        "slots.s",
        "slots.nums",
        "(range(1000)|list)",
    ]
)
BINARY = st.sampled_from(["*", "**", "%", "+", "~", "-", "//"])
FILTERS = st.sampled_from(
    [
        "|string",
        "|join(',')",
        "|list",
        "|center(999999999)",
        "|replace('x', 'xxxxxxxxxx')",
        "|int",
        "|length",
        "|batch(3)|list",
    ]
)


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        ATOMS,
        lambda inner: st.one_of(
            st.tuples(inner, BINARY, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, FILTERS).map(lambda t: f"({t[0]}{t[1]})"),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        ),
        max_leaves=12,
    )


@settings(
    max_examples=300,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_expressions())
def test_operators_on_huge_values_never_hang(expression: str) -> None:
    slots = {"n": 999999999, "s": "x" * 100, "nums": list(range(50))}
    source = "{{ " + expression + " }}"
    try:
        template = compile_template(source)
    except TemplateError:
        return  # e.g. a constant over a limit: a validation error
    try:
        text = template.render(context(**slots))
    except RenderError:
        return
    assert len(text) <= MAX_OUTPUT_CHARS
    # The fast path (used when it can) renders what Jinja itself renders.
    assert ENV.from_string(source).render(context(**slots)) == text


# -- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["99999999999999d", "366d", "8785h", "9" * 5000 + "s"])
def test_durations_over_a_year_are_errors(text: str) -> None:
    with quickly(), pytest.raises(DurationError, match="maximum duration of 365d"):
        parse_duration(text)


def test_a_year_is_the_longest_duration() -> None:
    assert parse_duration("365d") == timedelta(days=365)
    assert parse_duration("8760h") == timedelta(days=365)
    with pytest.raises(DurationError, match="is zero"):
        parse_duration("000m")


def test_a_huge_timeout_is_a_located_problem() -> None:
    text = """
        flow: f
        start: ask
        steps:
          ask:
            type: ask
            text: "¿Nombre?"
            slot: name
            timeout: {after: 99999999999999d, then: bye}
          bye: {type: end}
        """
    problems = load(text).problems
    assert problem_at(problems, pos(text, "99999999999999d")[0], "maximum duration of 365d")
