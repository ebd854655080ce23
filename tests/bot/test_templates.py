"""Texts and conditions as the engine runs them: Jinja2's semantics, in a sandbox.

The engine may evaluate common templates without Jinja's full machinery; whatever it does, a
flow author must see exactly what Jinja itself would render, so each template here is run
through a real flow and compared with Jinja rendering the same context.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from jinja2 import ChainableUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from centralita.bot import effects as fx
from centralita.bot.templates import ENV, RenderError, compile_template

from .helpers import CONTACT, T0, Chat, flow_of, only

SLOT_SETS: list[dict[str, Any]] = [
    {
        "n": 7,
        "zero": 0,
        "f": 2.345,
        "s": "Bogotá D.C.",
        "nums": [3, 1, 2],
        "d": {"k": "v", "items": "shadow"},
        "none": None,
        "b": True,
    },
    {"n": 0, "zero": 0, "f": -1.5, "s": "", "nums": [], "d": {}, "none": None, "b": False},
]

TEMPLATES = [
    "Hola {{ contact.profile_name }}, tu número termina en {{ contact.phone[-4:] }}",
    "{{ slots.n }} {{ slots.f }} {{ slots.s }} {{ slots.nums }} {{ slots.d }}",
    "{{ slots.none }}|{{ slots.b }}|{{ customer.name }}|{{ campaign }}|{{ candidates }}",
    "{{ slots.n * 2 }} {{ slots.n / 4 }} {{ slots.n // 4 }} {{ slots.n % 3 }} {{ slots.n - 1 }}",
    "{{ slots.n + slots.f }} {{ -slots.n }} {{ +slots.f }} {{ slots.n ** 2 }}",
    "{{ 10 // slots.n }}",
    "{{ slots.s ~ '/' ~ slots.n ~ customer.name }}",
    "{{ slots.s * 2 }}",
    "{% if slots.n > 3 %}grande{% elif slots.n %}pequeño{% else %}cero{% endif %}",
    "{% if slots.b and not slots.zero %}sí{% endif %}{% if slots.b or slots.n %}o{% endif %}",
    "{{ slots.n if slots.n else 'nada' }}|{{ slots.s if slots.b }}",
    "{{ slots.nums[0] }}",
    "{{ slots['n'] }} {{ slots.d['k'] }} {{ slots.d.k }} {{ slots.d.items is callable }}",
    "{{ slots.d.keys() | list }}",
    "{{ slots.s.upper() }} {{ slots.s.startswith('Bog') }} {{ slots.s.split(' ') }}",
    "{{ slots.s | upper }} {{ slots.s | title }} {{ slots.s | length }} {{ slots.s | trim }}",
    "{{ slots.f | round(1) }} {{ slots.f | int }} {{ '12' | int + 1 }} {{ slots.n | float }}",
    "{{ slots.none | default('vacío') }} {{ customer.name | default('cliente', true) }}",
    "{{ slots.n is defined }} {{ slots.ghost is defined }} {{ slots.n is odd }}",
    "{{ slots.n in [1, 7] }} {{ 'á' in slots.s }} {{ 1 < slots.n < 10 }} {{ slots.n != 7 }}",
    "{{ [slots.n, slots.s] }} {{ {'a': slots.n} }} {{ (1, slots.b) }}",
    "{{ slots.nums | sort | join(', ') }} {{ slots.nums | sum }} {{ slots.nums | first }}",
    "{{ range(3) | list }} {{ dict(a=1) }}",
    "{{ customer.balance | money }} {{ 1234.5 | money(decimals=2) }} {{ 'x' | money }}",
    "{{ '%s-%s' % (slots.n, slots.s) }} {{ '{}!'.format(slots.n) }}",
    "{% for i in slots.nums %}{{ loop.index }}:{{ i }} {% endfor %}",
    "{% set total = slots.n * 3 %}{{ total }}",
    "{{ now.year }}-{{ '%02d' % now.month }} intento {{ attempt }} {{ message.text }}",
    "{{ slots.nums.append(1) }}",
    "{{ slots.d.update({'x': 1}) }}",
    "{{ slots.n.__class__ }}{{ slots.s.__class__.__mro__ }}",
    "{{ slots.s.__class__.__mro__[1].__subclasses__() }}",
    "{{ customer.name.upper() }}",
    "{{ slots.none.upper() }}",
    "{{ slots.n > slots.ghost }}",
    # Operators the environment intercepts to limit them, and filters and methods it caps:
    # the fast path and Jinja's generated code both go through the same checks.
    "{{ 2 ** slots.n }} {{ slots.n ** 2 ** 2 }} {{ slots.f ** 2 }} {{ slots.n ** -1 }}",
    "{{ slots.s + '!' }} {{ slots.nums + [4] }} {{ slots.nums * 2 }} {{ 3 * slots.s }}",
    "{{ '%05.1f' % slots.f }} {{ '%(a)s' % {'a': slots.n} }} {{ slots.n % 4 }}",
    "{{ '{:>6}|{:.2f}'.format(slots.n, slots.f) }} {{ '{a}'.format_map({'a': slots.s}) }}",
    "{{ slots.s.ljust(14, '.') }}|{{ slots.s.center(15) }}|{{ slots.s.zfill(14) }}",
    "{{ slots.s.replace('o', '0') }} {{ ', '.join(slots.nums | map('string')) }}",
    "{{ slots.s.encode('utf-8') }} {{ slots.s.expandtabs(4) }}",
    "{{ slots.s | center(20) }}|{{ slots.s | indent(2, true) }}|{{ slots.s | wordwrap(5) }}",
    "{{ slots.s | truncate(9) }} {{ '%s=%d' | format('n', slots.n) }}",
    "{{ slots.nums | batch(2, 0) | list }} {{ slots.nums | slice(2) | list }}",
    "{{ slots.f | round(2, 'floor') }} {{ slots.d | tojson }} {{ slots.d | pprint }}",
    "{{ slots.nums | join(', ') }} {{ slots.s | replace(' ', '_') }} {{ slots.d | string }}",
    "{% for i in range(3) %}{{ i }}{% endfor %} {{ namespace(a=slots.n).a }}",
    "{% for k, v in slots.d | dictsort %}{{ k }}={{ v }};{% else %}nada{% endfor %}",
    "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(slots.n) }}",
    "{% set t %}{{ slots.s }}!{% endset %}{{ t }}",
    "{{ [slots.n, [slots.s]] }} {{ {'k': slots.nums} }} {{ (slots.nums, slots.s) }}",
    "{% set ns = namespace(t='') %}{% for c in slots.nums %}{% set ns.t = ns.t ~ c %}{% endfor %}"
    "{{ ns.t }}",
    "{% for x in [slots.nums] recursive %}[{{ x if x is number else loop(x) }}]{% endfor %}",
]

CONDITIONS = [
    "slots.n > 3",
    "slots.n > 3 and slots.s",
    "slots.none is none or slots.zero",
    "not slots.nums",
    "slots.s.startswith('Bog')",
    "slots.s | length > 5",
    "slots.d.k == 'v'",
    "customer.name == 'Ana'",
    "customer is none",
    "slots.ghost",
    "slots.ghost > 1",
    "'a' in slots.nums",
    "slots.n in [7, 8] and attempt == 1",
    "contact.channel == 'whatsapp' and contact.phone.startswith('+57')",
    "(slots.f | round) >= 2",
    "slots.nums | select('odd') | list | length == 2",
    "slots.n / slots.zero",
    "slots.n ** 2 > 40",
    "slots.s + 'x' == 'Bogotá D.C.x'",
    "'%d' % slots.n == '7'",
    "(slots.nums * 2) | length == 6",
    "[slots.n, slots.s] | length == 2",
]


def reference_context(slots: dict[str, Any]) -> dict[str, Any]:
    """What the spec says templates see, at the start of a chat (as Jinja would get it)."""
    return {
        "contact": CONTACT.as_context(),
        "message": {"text": "hola", "media": []},
        "slots": slots,
        "customer": None,
        "campaign": None,
        "candidates": None,
        "attempt": 1,
        "now": T0,
    }


def outcome(run: Any) -> tuple[str, Any]:
    try:
        return ("ok", run())
    except Exception:  # noqa: BLE001 - any error: the engine must fail too
        return ("error", None)


def engine_text(template: str, slots: dict[str, Any]) -> tuple[str, Any]:
    data = {
        "flow": "t",
        "start": "prep",
        "steps": {
            "prep": {"type": "set", "values": slots},
            "show": {"type": "say", "text": template, "next": "bye"},
            "bye": {"type": "end"},
        },
    }
    turn = Chat(flow_of(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))).start("hola")
    if only(turn.effects, fx.FlowError):
        return ("error", None)
    return ("ok", turn.texts[0] if turn.texts else "")


def engine_condition(condition: str, slots: dict[str, Any]) -> tuple[str, Any]:
    data = {
        "flow": "c",
        "start": "prep",
        "steps": {
            "prep": {"type": "set", "values": slots},
            "check": {
                "type": "branch",
                "branches": [{"if": condition, "then": "held"}],
                "else": "failed",
            },
            "held": {"type": "end", "text": "Held."},
            "failed": {"type": "end", "text": "Failed."},
        },
    }
    turn = Chat(flow_of(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))).start("hola")
    if only(turn.effects, fx.FlowError):
        return ("error", None)
    return ("ok", only(turn.effects, fx.Close)[0].text == "Held.")


@pytest.mark.parametrize("slots", SLOT_SETS, ids=["values", "empties"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_texts_render_as_jinja_renders_them(template: str, slots: dict[str, Any]) -> None:
    expected = outcome(lambda: ENV.from_string(template).render(reference_context(slots)))
    assert engine_text(template, slots) == expected


@pytest.mark.parametrize("slots", SLOT_SETS, ids=["values", "empties"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_conditions_hold_as_jinja_says(condition: str, slots: dict[str, Any]) -> None:
    expected = outcome(lambda: bool(ENV.compile_expression(condition)(**reference_context(slots))))
    assert engine_condition(condition, slots) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ slots.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{{ range.__init__.__globals__['os'] }}",
        "{{ cycler.__init__.__globals__.os.system('id') }}",
        "{{ slots.s.format.__globals__ }}",
        "{{ '{0.__class__}'.format(slots) }}",
        "{{ slots.nums.pop() }}",
        "{{ slots.update(x=1) }}",
    ],
)
def test_the_sandbox_keeps_python_internals_and_mutation_out(template: str) -> None:
    slots = {"s": "x", "nums": [1]}
    context = {**reference_context(slots)}
    try:
        text = compile_template(template).render(context)
    except RenderError:
        return
    assert "class" not in text and "function" not in text and "module" not in text
    assert slots == {"s": "x", "nums": [1]}


def test_money_formats_latin_american_amounts() -> None:
    render = ENV.from_string(
        "{{ 150000 | money }} {{ 1234.5 | money(decimals=2) }} {{ 5 | money('USD ') }}"
    ).render
    assert render() == "$150.000 $1.234,50 USD 5"


# Jinja's sandbox as it comes, with no limits: what the limits must never change for texts and
# conditions that stay within them.
UNLIMITED = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
UNLIMITED.filters["money"] = ENV.filters["money"]
UNLIMITED.filters["as_date"] = ENV.filters["as_date"]


@pytest.mark.parametrize("slots", SLOT_SETS, ids=["values", "empties"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_limits_do_not_change_what_jinja_renders(template: str, slots: dict[str, Any]) -> None:
    expected = outcome(lambda: UNLIMITED.from_string(template).render(reference_context(slots)))
    assert engine_text(template, slots) == expected


@pytest.mark.parametrize("slots", SLOT_SETS, ids=["values", "empties"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_limits_do_not_change_what_conditions_say(condition: str, slots: dict[str, Any]) -> None:
    context = reference_context(slots)
    expected = outcome(lambda: bool(UNLIMITED.compile_expression(condition)(**context)))
    assert engine_condition(condition, slots) == expected
