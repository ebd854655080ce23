"""The interpreter: what a customer sees and what the app is asked to do, step type by step type."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from datetime import timedelta

import pytest

from centralita.bot import effects as fx
from centralita.bot.directory import MemoryDirectory
from centralita.bot.engine import CustomerRecord, DirectoryError, Engine, Inbound
from centralita.bot.loader import FlowSet
from centralita.bot.state import CLOSED, HANDOFF, ChatState

from .helpers import CONTACT, T0, Chat, flow_of, flowset, load, only, pos

# -- say, ask, fallthrough -------------------------------------------------------------------

BASIC = """
    flow: basic
    start: greet
    steps:
      greet: {type: say, text: "¡Hola {{ contact.profile_name }}!"}
      ask_name:
        type: ask
        text: "¿Cómo te llamas?"
        slot: name
      thanks: {type: say, text: "Gracias, {{ slots.name }}.", next: bye}
      never: {type: say, text: "No se dice", next: bye}
      bye: {type: end, text: "Hasta luego."}
    """


def test_say_then_ask_waits_for_the_reply() -> None:
    chat = Chat(flow_of(BASIC))
    turn = chat.start("hola")
    assert turn.texts == ["¡Hola Ana!", "¿Cómo te llamas?"]
    assert chat.step == "ask_name"
    assert turn.state.status == "active"


def test_steps_without_next_continue_with_the_step_written_after() -> None:
    chat = Chat(flow_of(BASIC))
    chat.start()
    turn = chat.send("  Beatriz  ")
    assert turn.texts == ["Gracias, Beatriz."]
    assert only(turn.effects, fx.SetSlots) == [fx.SetSlots({"name": "Beatriz"})]
    [close] = only(turn.effects, fx.Close)
    assert close == fx.Close("bot_completed", "Hasta luego.")
    assert turn.state.status == CLOSED
    assert [step for _, step in turn.trace] == ["thanks", "bye"]


def test_the_first_message_starts_the_flow_and_is_not_an_answer() -> None:
    chat = Chat(flow_of(BASIC))
    chat.start("Beatriz")
    assert chat.slots == {}


def test_a_top_level_flow_running_off_its_end_hands_off() -> None:
    flow = flow_of(
        """
        flow: short
        start: s
        steps:
          s: {type: say, text: "Eso es todo"}
        """
    )
    turn = Chat(flow).start()
    assert turn.texts[0] == "Eso es todo"
    [handoff] = only(turn.effects, fx.Handoff)
    assert handoff.reason == "flow_end"
    assert turn.state.status == HANDOFF


def test_say_with_media() -> None:
    flow = flow_of(
        """
        flow: media
        start: s
        steps:
          s: {type: say, media: "https://example.com/{{ contact.phone }}.pdf", next: bye}
          bye: {type: end}
        """
    )
    turn = Chat(flow).start()
    assert only(turn.effects, fx.Send) == [fx.Send("", "https://example.com/+573001234567.pdf")]


# -- retries ---------------------------------------------------------------------------------

RETRIES = """
    flow: retries
    start: amount
    steps:
      amount:
        type: ask
        text: "¿Cuánto pagarás?"
        slot: amount
        validate: {type: integer, min: 1000}
        invalid: ["Escribe solo números.", "Debe ser al menos 1.000 (intento {{ attempt }})."]
        max_attempts: 4
      ok: {type: end, text: "Anotado {{ slots.amount }}"}
    """


def test_invalid_replies_get_one_text_per_attempt_and_the_last_repeats() -> None:
    chat = Chat(flow_of(RETRIES))
    chat.start()
    assert chat.send("mucho").texts == ["Escribe solo números."]
    assert chat.send("5").texts == ["Debe ser al menos 1.000 (intento 3)."]
    assert chat.send("5").texts == ["Debe ser al menos 1.000 (intento 4)."]
    assert chat.state is not None and chat.state.attempts == 3
    assert chat.step == "amount"


def test_a_valid_reply_after_invalid_ones_goes_on() -> None:
    chat = Chat(flow_of(RETRIES))
    chat.start()
    chat.send("x")
    turn = chat.send("150.000")
    assert turn.texts == []
    assert only(turn.effects, fx.Close)[0].text == "Anotado 150000"
    assert chat.slots == {"amount": 150000}


def test_exhausted_attempts_hand_off_by_default() -> None:
    chat = Chat(flow_of(RETRIES))
    chat.start()
    for _ in range(3):
        chat.send("nada")
    turn = chat.send("nada")
    assert "Escribe solo números." not in turn.texts
    assert turn.texts == ["Te comunicaré con un asesor para que te ayude."]
    [handoff] = only(turn.effects, fx.Handoff)
    assert handoff.reason == "exhausted" and handoff.campaign is None
    assert turn.state.status == HANDOFF


def test_on_exhausted_goes_to_the_named_step_with_settings_defaults() -> None:
    flow = flow_of(
        """
        flow: f
        settings:
          max_attempts: 2
          invalid: "No te entendí."
        start: pick
        steps:
          pick:
            type: menu
            text: "¿Sí o no?"
            on_exhausted: sorry
            options:
              - {key: si, label: Sí}
              - {key: "no", label: "No"}
          yes: {type: end, text: "Bien"}
          sorry: {type: end, text: "Lo siento, te escribiremos luego."}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert chat.send("quizás").texts == ["No te entendí.\n1. Sí\n2. No"]
    turn = chat.send("tal vez")
    assert only(turn.effects, fx.Close) == [
        fx.Close("bot_completed", "Lo siento, te escribiremos luego.")
    ]


# -- menus -----------------------------------------------------------------------------------

MENU = """
    flow: menu
    start: main
    steps:
      main:
        type: menu
        text: "¿Qué deseas hacer?"
        slot: choice
        options:
          - {key: pay, label: "Pagar mi deuda", next: pay, match: [pagar, pago, "acuerdo de pago"]}
          - {key: agent, label: "Hablar con un asesor", next: agent, match: [asesor, humano]}
          - {key: info, label: Información, next: info, match: [saldo, pago]}
      pay: {type: end, text: "Pago"}
      agent:
        type: handoff
        text: "Ya te atiende un asesor"
        campaign: soporte
        priority: 3
        tags: [menu]
      info: {type: end, text: "Info"}
    """


def test_a_match_word_shared_by_two_options_is_a_warning() -> None:
    loaded = load(MENU)
    [warning] = loaded.problems
    assert warning.severity == "warning" and "'pago'" in warning.message
    assert warning.line == pos(MENU, "pago]")[0]


def test_menu_prompt_lists_numbered_options() -> None:
    turn = Chat(flow_of(MENU)).start()
    assert turn.texts == [
        "¿Qué deseas hacer?\n1. Pagar mi deuda\n2. Hablar con un asesor\n3. Información"
    ]


@pytest.mark.parametrize(
    ("reply", "step"),
    [
        ("1", "pay"),
        (" 2. ", "agent"),
        ("3", "info"),
        ("PAY", "pay"),
        ("agent", "agent"),
        ("pagar mi deuda", "pay"),
        ("¡Información!", "info"),
        ("informacion", "info"),
        ("INFORMACIÓN", "info"),
        ("quiero PAGAR hoy", "pay"),
        ("¿Puedo hablar con un ASESÓR?", "agent"),
        ("necesito un Humano", "agent"),
        ("cuál es mi SALDO?", "info"),
    ],
)
def test_menu_reply_matches_number_key_label_or_word(reply: str, step: str) -> None:
    chat = Chat(flow_of(MENU))
    chat.start()
    chat.send(reply)
    assert chat.step == step


@pytest.mark.parametrize(
    "reply",
    [
        "pago",  # a match word of two options
        "quiero un acuerdo de pago",  # still contains `pago`, shared by two options
        "mi saldo, o un asesor",
        "4",
        "0",
        "",
        "   ",
        "pagarlo",
        "humanos",
    ],
)
def test_menu_replies_that_match_nothing_or_two_options_are_invalid(reply: str) -> None:
    chat = Chat(flow_of(MENU))
    chat.start()
    turn = chat.send(reply)
    assert chat.step == "main"
    assert turn.texts == [
        "Por favor responde con el número de una de las opciones.\n"
        "1. Pagar mi deuda\n2. Hablar con un asesor\n3. Información"
    ]
    assert chat.state is not None and chat.state.attempts == 1


def test_menu_slot_stores_the_key_and_handoff_carries_its_details() -> None:
    chat = Chat(flow_of(MENU))
    chat.start()
    turn = chat.send("asesor")
    assert chat.slots == {"choice": "agent"}
    assert turn.texts == ["Ya te atiende un asesor"]
    assert only(turn.effects, fx.Handoff) == [fx.Handoff("soporte", 3, ("menu",), "flow")]


def test_the_bot_is_silent_after_a_handoff() -> None:
    chat = Chat(flow_of(MENU))
    chat.start()
    chat.send("2")
    before = chat.state
    for turn in (chat.send("¿hola?"), chat.send("1"), chat.wait(timedelta(days=3))):
        assert turn.effects == []
        assert turn.state == before


def test_the_bot_is_silent_after_the_chat_closed() -> None:
    chat = Chat(flow_of(MENU))
    chat.start()
    chat.send("1")
    assert chat.state is not None and chat.state.status == CLOSED
    assert chat.send("hola otra vez").effects == []


# -- branch and set --------------------------------------------------------------------------

BRANCH = """
    flow: branchy
    start: age
    steps:
      age: {type: ask, text: "¿Edad?", slot: age, validate: {type: integer}}
      compute:
        type: set
        values:
          doubled: "{{ slots.age * 2 }}"
          label: "edad {{ slots.age }}"
          adult: "{{ slots.age >= 18 }}"
          fixed: 7
          nothing: "{{ customer.name }}"
      check:
        type: branch
        branches:
          - {if: "slots.age >= 65", then: senior}
          - {if: "slots.adult", then: adult}
        else: minor
      senior: {type: end, text: "Senior"}
      adult: {type: end, text: "Adulto {{ slots.doubled + 1 }}"}
      minor: {type: end, text: "Menor"}
    """


@pytest.mark.parametrize(("age", "text"), [("70", "Senior"), ("30", "Adulto 61"), ("9", "Menor")])
def test_branch_takes_the_first_condition_that_holds(age: str, text: str) -> None:
    chat = Chat(flow_of(BRANCH))
    chat.start()
    turn = chat.send(age)
    assert only(turn.effects, fx.Close)[0].text == text


def test_set_of_a_lone_expression_keeps_its_type() -> None:
    chat = Chat(flow_of(BRANCH))
    chat.start()
    chat.send("30")
    assert chat.slots == {
        "age": 30,
        "doubled": 60,
        "label": "edad 30",
        "adult": True,
        "fixed": 7,
        "nothing": None,
    }
    assert isinstance(chat.slots["doubled"], int)
    json.dumps(chat.slots)


# -- lookup ----------------------------------------------------------------------------------

LOOKUP = """
    flow: lookup
    start: doc
    steps:
      doc:
        type: ask
        text: "Escribe tu documento"
        slot: document
        validate: {type: document}
      find:
        type: lookup
        document: "{{ slots.document }}"
        on: {found: known, not_found: unknown, ambiguous: pick, error: broken}
      pick:
        type: menu
        text: "¿Sobre cuál cuenta nos escribes?"
        options_from: candidates
        next: known
      known:
        type: say
        text: >-
          Hola {{ customer.name }}, debes {{ customer.balance | money }} en {{ campaign.name }}.
        next: agent
      agent: {type: handoff, text: "Te paso con un asesor."}
      unknown: {type: end, text: "No encontramos el documento {{ slots.document }}."}
      broken: {type: handoff, text: "Tenemos un problema técnico.", tags: [lookup_error]}
    """


def directory() -> MemoryDirectory:
    customers = MemoryDirectory({"castigada": "Cartera castigada", "vigente": "Cartera vigente"})
    customers.add("castigada", {"documento": "1.012.345.678", "nombre": "Ana", "balance": 150000})
    customers.add("castigada", {"document": "555", "name": "Luis", "balance": 10})
    customers.add("vigente", {"document": "555", "name": "Luis", "balance": 2500})
    return customers


def test_lookup_found_sets_the_customer_and_the_campaign() -> None:
    chat = Chat(flow_of(LOOKUP), directory())
    chat.start()
    turn = chat.send("1012-345-678")
    assert turn.texts == [
        "Hola Ana, debes $150.000 en Cartera castigada.",
        "Te paso con un asesor.",
    ]
    assert only(turn.effects, fx.Lookup) == [fx.Lookup("1012345678", "found", ("castigada",))]
    assert only(turn.effects, fx.SelectCustomer) == [fx.SelectCustomer("castigada", "1012345678")]
    assert only(turn.effects, fx.Handoff)[0].campaign == "castigada"
    assert turn.state.campaign == {"slug": "castigada", "name": "Cartera castigada"}
    assert turn.state.customer["name"] == "Ana"


def test_lookup_not_found() -> None:
    chat = Chat(flow_of(LOOKUP), directory())
    chat.start()
    turn = chat.send("999 999")
    assert only(turn.effects, fx.Lookup) == [fx.Lookup("999999", "not_found")]
    assert only(turn.effects, fx.Close)[0].text == "No encontramos el documento 999999."
    assert turn.state.customer is None


def test_ambiguous_lookup_offers_the_candidates_and_the_pick_sets_customer_and_campaign() -> None:
    chat = Chat(flow_of(LOOKUP), directory())
    chat.start()
    turn = chat.send("555")
    assert turn.texts == [
        "¿Sobre cuál cuenta nos escribes?\n1. Cartera castigada\n2. Cartera vigente"
    ]
    assert only(turn.effects, fx.Lookup) == [
        fx.Lookup("555", "ambiguous", ("castigada", "vigente"))
    ]
    assert chat.state is not None and chat.state.customer is None
    assert len(chat.state.candidates or []) == 2
    assert chat.send("3").texts[0].startswith("Por favor responde")
    turn = chat.send("cartera VIGENTE")
    assert turn.texts[0] == "Hola Luis, debes $2.500 en Cartera vigente."
    assert only(turn.effects, fx.SelectCustomer) == [fx.SelectCustomer("vigente", "555")]
    assert only(turn.effects, fx.Handoff)[0].campaign == "vigente"
    assert turn.state.candidates is None


def test_ambiguous_pick_by_number() -> None:
    chat = Chat(flow_of(LOOKUP), directory())
    chat.start()
    chat.send("555")
    chat.send("1")
    assert chat.state is not None
    assert chat.state.campaign == {"slug": "castigada", "name": "Cartera castigada"}
    assert chat.state.customer is not None and chat.state.customer["balance"] == 10


def test_lookup_only_searches_the_campaigns_of_the_number() -> None:
    chat = Chat(flow_of(LOOKUP), directory(), campaigns=["vigente"])
    chat.start()
    turn = chat.send("555")
    assert only(turn.effects, fx.Lookup) == [fx.Lookup("555", "found", ("vigente",))]
    assert turn.texts[0] == "Hola Luis, debes $2.500 en Cartera vigente."

    chat = Chat(flow_of(LOOKUP), directory(), campaigns=["vigente"])
    chat.start()
    assert only(chat.send("1012345678").effects, fx.Lookup)[0].outcome == "not_found"


def test_lookup_skips_inactive_campaigns() -> None:
    customers = directory()
    customers.inactive.add("castigada")
    chat = Chat(flow_of(LOOKUP), customers)
    chat.start()
    assert only(chat.send("555").effects, fx.Lookup)[0].outcome == "found"


class BrokenDirectory:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Sequence[str] | None]] = []

    def find(self, document: str, campaigns: Sequence[str] | None) -> list[CustomerRecord]:
        self.calls.append((document, campaigns))
        raise DirectoryError("database is down")


def test_lookup_error_when_the_directory_fails() -> None:
    broken = BrokenDirectory()
    chat = Chat(flow_of(LOOKUP), broken, campaigns=["castigada"])
    chat.start()
    turn = chat.send("1012345678")
    assert broken.calls == [("1012345678", ["castigada"])]
    assert only(turn.effects, fx.Lookup) == [fx.Lookup("1012345678", "error")]
    assert turn.texts == ["Tenemos un problema técnico."]
    assert only(turn.effects, fx.Handoff)[0].tags == ("lookup_error",)
    assert only(turn.effects, fx.FlowError) == []


def test_lookup_outcomes_left_out_fall_through() -> None:
    flow = flow_of(
        """
        flow: f
        start: find
        steps:
          find: {type: lookup, document: "{{ contact.phone }}", on: {found: hello}}
          stranger: {type: end, text: "¿Quién eres?"}
          hello: {type: end, text: "Hola {{ customer.name }}"}
        """
    )
    turn = Chat(flow).start()
    assert only(turn.effects, fx.Close)[0].text == "¿Quién eres?"


# -- subflows --------------------------------------------------------------------------------

MAIN = """
    flow: main
    start: hello
    steps:
      hello: {type: say, text: "Hola"}
      identify: {type: flow, flow: identify, next: thanks}
      thanks: {type: end, text: "Gracias {{ slots.name }}"}
    """
IDENTIFY = """
    flow: identify
    start: ask
    steps:
      ask: {type: ask, text: "¿Tu nombre?", slot: name}
      ok: {type: say, text: "Listo, {{ slots.name }}."}
    """


def test_a_called_flow_runs_and_returns_to_next() -> None:
    chat = Chat(flowset(MAIN, IDENTIFY), flow_id="main")
    turn = chat.start()
    assert turn.texts == ["Hola", "¿Tu nombre?"]
    assert chat.state is not None
    assert chat.state.flow == "identify" and len(chat.state.stack) == 1
    turn = chat.send("Eva")
    assert turn.texts == ["Listo, Eva."]
    assert only(turn.effects, fx.Close)[0].text == "Gracias Eva"
    assert turn.state.flow == "main" and turn.state.stack == []
    assert turn.trace == [("identify", "ok"), ("main", "thanks")]


def test_a_called_flow_missing_at_runtime_is_a_flow_error_and_a_handoff() -> None:
    flows = FlowSet()
    flows.add(flow_of(MAIN))  # identify is not loaded
    chat = Chat(flows, flow_id="main")
    turn = chat.start()
    assert turn.texts[0] == "Hola"
    [error] = only(turn.effects, fx.FlowError)
    assert "identify" in error.message and error.flow == "main" and error.step == "identify"
    [handoff] = only(turn.effects, fx.Handoff)
    assert handoff.reason == "flow_error"
    assert turn.texts[-1] == "Te comunicaré con un asesor para que te ayude."
    assert turn.state.status == HANDOFF


def chain(depth: int) -> FlowSet:
    texts = []
    for i in range(depth):
        texts.append(
            f"""
            flow: level{i}
            start: go
            steps:
              go: {{type: flow, flow: level{i + 1}, next: done}}
              done: {{type: end, text: "fin {i}"}}
            """
        )
    texts.append(
        f"""
        flow: level{depth}
        start: bottom
        steps:
          bottom: {{type: say, text: "Fondo."}}
        """
    )
    return flowset(*texts)


def test_nested_calls_within_the_depth_cap_return_all_the_way() -> None:
    turn = Chat(chain(5), flow_id="level0").start()
    assert turn.texts == ["Fondo."]
    assert only(turn.effects, fx.Close)[0].text == "fin 4"
    assert only(turn.effects, fx.FlowError) == []


def test_calls_nested_too_deep_are_a_flow_error() -> None:
    turn = Chat(chain(6), flow_id="level0").start()
    [error] = only(turn.effects, fx.FlowError)
    assert "deeper" in error.message
    assert only(turn.effects, fx.Handoff)[0].reason == "flow_error"
    assert "Fondo." not in turn.texts


# -- runtime errors --------------------------------------------------------------------------


def test_a_template_failing_at_runtime_is_a_flow_error_and_a_handoff() -> None:
    flow = flow_of(
        """
        flow: f
        start: qty
        steps:
          qty: {type: ask, text: "¿Cuántas cuotas?", slot: n, validate: {type: integer}}
          each: {type: say, text: "Cada cuota: {{ 1000 // slots.n }}", next: bye}
          bye: {type: end}
        """
    )
    chat = Chat(flow)
    chat.start()
    turn = chat.send("0")
    [error] = only(turn.effects, fx.FlowError)
    assert error.step == "each" and "ZeroDivisionError" in error.message
    assert only(turn.effects, fx.Handoff)[0].reason == "flow_error"
    assert only(turn.effects, fx.Close) == []
    assert turn.state.status == HANDOFF


def test_retry_and_reminder_texts_failing_at_runtime_are_flow_errors() -> None:
    flow = flow_of(
        """
        flow: f
        start: qty
        steps:
          qty:
            type: ask
            text: "¿Cuántas?"
            slot: n
            validate: {type: integer}
            invalid: "Van {{ 10 // (attempt - 3) }}"
            timeout: {after: 1m, remind: "{{ message.text | int // 0 }}"}
          bye: {type: end}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert chat.send("x").texts == ["Van -10"]
    turn = chat.send("y")  # now attempt is 3: division by zero
    assert only(turn.effects, fx.FlowError)[0].step == "qty"
    assert only(turn.effects, fx.Handoff)[0].reason == "flow_error"

    chat = Chat(flow)
    chat.start()
    turn = chat.wait(timedelta(minutes=1))
    assert only(turn.effects, fx.FlowError) and turn.state.status == HANDOFF


def test_a_template_cannot_change_the_chat_data() -> None:
    flow = flow_of(
        """
        flow: f
        start: s
        steps:
          s: {type: say, text: "{{ slots.update({'vip': true}) }}", next: bye}
          bye: {type: end}
        """
    )
    turn = Chat(flow).start()
    assert turn.state.slots == {}
    assert only(turn.effects, fx.FlowError)


# -- languages -------------------------------------------------------------------------------

LANGS = """
    flow: langs
    language: es
    languages: [es, en]
    messages:
      bye: {es: "Adiós", en: "Goodbye"}
    start: pick
    steps:
      pick:
        type: menu
        text: {es: "Elige idioma", en: "Choose a language"}
        slot: language
        options:
          - {key: es, label: Español}
          - {key: en, label: English}
      hello: {type: say, text: {es: "Hola", en: "Hello"}}
      only_es: {type: say, text: "Solo en español"}
      switch: {type: set, values: {language: es}}
      after: {type: end, text: bye}
    """


def test_texts_follow_the_chat_language() -> None:
    chat = Chat(flow_of(LANGS))
    assert chat.start().texts == ["Elige idioma\n1. Español\n2. English"]
    turn = chat.send("English")
    assert turn.texts == ["Hello", "Solo en español"]
    assert only(turn.effects, fx.Close)[0].text == "Adiós"  # set language: es switched back


def test_a_chat_can_start_in_another_language() -> None:
    chat = Chat(flow_of(LANGS), language="en")
    assert chat.start().texts == ["Choose a language\n1. Español\n2. English"]
    assert chat.state is not None and chat.state.language == "en"
    chat = Chat(flow_of(LANGS), language="fr")  # not declared: the flow's language
    assert chat.start().texts[0].startswith("Elige idioma")


# -- silence ---------------------------------------------------------------------------------

SILENCE = """
    flow: silence
    start: ask
    steps:
      ask:
        type: ask
        text: "¿Tu correo?"
        slot: email
        validate: {type: email}
        timeout: {after: 10m, remind: "¿Sigues ahí?", max_reminders: 2, then: gone}
      thanks: {type: end, text: "Gracias"}
      gone: {type: end, text: "Cerramos por inactividad."}
    """


def test_silence_sends_reminders_then_follows_then() -> None:
    chat = Chat(flow_of(SILENCE))
    chat.start()
    assert chat.wait(timedelta(minutes=9)).effects == []
    assert chat.wait(timedelta(minutes=1)).texts == ["¿Sigues ahí?"]
    assert chat.wait(timedelta(minutes=9, seconds=59)).effects == []
    assert chat.wait(timedelta(seconds=1)).texts == ["¿Sigues ahí?"]
    turn = chat.wait(timedelta(minutes=10))
    assert only(turn.effects, fx.Close) == [fx.Close("bot_completed", "Cerramos por inactividad.")]
    assert turn.state.status == CLOSED


def test_one_late_tick_sends_the_due_reminders_and_the_timeout_in_order() -> None:
    chat = Chat(flow_of(SILENCE))
    chat.start()
    turn = chat.wait(timedelta(days=2))
    assert [type(e).__name__ for e in turn.effects] == ["Send", "Send", "Close"]
    assert turn.texts == ["¿Sigues ahí?", "¿Sigues ahí?"]
    assert only(turn.effects, fx.Close)[0].text == "Cerramos por inactividad."


def test_an_invalid_reply_restarts_the_silence_count() -> None:
    chat = Chat(flow_of(SILENCE))
    chat.start()
    chat.wait(timedelta(minutes=10))  # first reminder
    chat.send("no tengo")  # invalid
    assert chat.state is not None and chat.state.reminders == 0
    assert chat.state.deadline == (chat.now + timedelta(minutes=10)).timestamp()
    assert chat.wait(timedelta(minutes=10)).texts == ["¿Sigues ahí?"]


def test_a_valid_reply_before_the_deadline_cancels_the_silence() -> None:
    chat = Chat(flow_of(SILENCE))
    chat.start()
    chat.wait(timedelta(minutes=5))
    turn = chat.send("ANA@Example.com")
    assert chat.slots == {"email": "ana@example.com"}
    assert turn.state.deadline is None
    assert chat.wait(timedelta(days=1)).effects == []


def test_settings_timeout_applies_to_every_question_and_a_step_can_override_it() -> None:
    flow = flow_of(
        """
        flow: f
        settings:
          timeout: {after: 1h, then: bye}
        start: a
        steps:
          a: {type: ask, text: "¿A?", slot: a}
          b: {type: ask, text: "¿B?", slot: b, timeout: {after: 5m, remind: "¿B? ¿B?"}}
          bye: {type: end, text: "Chao"}
        """
    )
    chat = Chat(flow)
    chat.start()
    assert chat.wait(timedelta(minutes=59)).effects == []
    assert only(chat.wait(timedelta(minutes=1)).effects, fx.Close)[0].text == "Chao"

    chat = Chat(flow)
    chat.start()
    chat.send("x")
    assert chat.wait(timedelta(minutes=5)).texts == ["¿B? ¿B?"]
    # No `then`: after its reminder the question just waits.
    assert chat.wait(timedelta(days=1)).effects == []
    assert chat.step == "b" and chat.state is not None and chat.state.status == "active"


# -- purity and state ------------------------------------------------------------------------


def test_the_input_state_is_not_mutated_and_the_same_input_gives_the_same_output() -> None:
    flows = FlowSet()
    flows.add(flow_of(LOOKUP))
    engine = Engine(flows, directory())
    turn = engine.start("lookup", CONTACT, T0)
    state = engine.receive(turn.state, Inbound("555"), CONTACT, T0).state  # candidates set
    frozen = copy.deepcopy(state)
    first = engine.receive(state, Inbound("2"), CONTACT, T0 + timedelta(minutes=1))
    assert state == frozen
    second = engine.receive(state, Inbound("2"), CONTACT, T0 + timedelta(minutes=1))
    assert first.effects == second.effects
    assert first.state == second.state and first.state is not second.state
    assert first.state.to_json() != frozen.to_json()

    waiting = Chat(flow_of(SILENCE))
    waiting.start()
    assert waiting.state is not None
    before = copy.deepcopy(waiting.state)
    later = T0 + timedelta(hours=1)
    one = waiting.engine.tick(waiting.state, CONTACT, later)
    two = waiting.engine.tick(waiting.state, CONTACT, later)
    assert waiting.state == before
    assert one.effects == two.effects and one.state == two.state


def test_chat_state_round_trips_through_json_and_stays_small() -> None:
    chat = Chat(flowset(MAIN, IDENTIFY), flow_id="main")
    chat.start()
    assert chat.state is not None
    chat.state.slots.update(
        {
            "document": "1012345678",
            "amount": 150000,
            "promise_date": "2026-03-15",
            "email": "ana.maria.rodriguez@example.com",
            "note": "Puede pagar la mitad el viernes y el resto el mes que viene",
        }
    )
    chat.state.customer = {
        "document": "1012345678",
        "name": "Ana María Rodríguez",
        "phone": "+573001234567",
        "balance": 1500000,
        "days_overdue": 95,
        "product": "Tarjeta de crédito",
    }
    chat.state.campaign = {"slug": "castigada", "name": "Cartera castigada"}
    chat.state.attempts = 2
    chat.state.deadline = T0.timestamp() + 900
    text = chat.state.dumps()
    assert len(text.encode("utf-8")) < 2_000  # far under the 10 KB budget
    restored = ChatState.loads(text)
    assert restored == chat.state
    # The restored state carries on exactly like the original.
    original = chat.engine.receive(chat.state, Inbound("Eva"), CONTACT, T0)
    again = chat.engine.receive(restored, Inbound("Eva"), CONTACT, T0)
    assert original.effects == again.effects and original.state == again.state


def test_chat_state_with_defaults_leaves_them_out_and_rejects_unknown_versions() -> None:
    state = ChatState(flow="f", version="abc", step="s")
    assert state.to_json() == {"v": 1, "flow": "f", "version": "abc", "step": "s", "language": "es"}
    with pytest.raises(ValueError, match="version"):
        ChatState.from_json({"v": 99, "flow": "f", "version": "abc", "step": "s"})


def test_states_stay_json_after_every_turn_of_a_conversation() -> None:
    chat = Chat(flow_of(LOOKUP), directory())
    turns = [chat.start(), chat.send("555"), chat.send("2")]
    for turn in turns:
        assert ChatState.loads(json.dumps(turn.state.to_json())) == turn.state
