"""Inputs that used to escape the engine or surprise authors (from the code review)."""

from __future__ import annotations

from pathlib import Path

from centralita.bot import effects as fx
from centralita.bot.inputs import Rules, check
from centralita.bot.loader import load_paths
from centralita.bot.testing import run_flow_tests

from .helpers import Chat, errors, flow_of, load, only, write


def test_a_failing_menu_label_hands_off_instead_of_escaping() -> None:
    flow = flow_of(
        """
        flow: m
        start: menu
        steps:
          menu:
            type: menu
            text: Elige
            options:
              - {label: "Pagar {{ 100 // (message.text | length) }}", next: bye}
          bye: {type: end, text: Chao.}
        """
    )
    chat = Chat(flow)
    chat.start("hola")
    turn = chat.send("")  # a media-only reply: len 0, division by zero in the label
    assert only(turn.effects, fx.FlowError)
    assert only(turn.effects, fx.Handoff)[0].reason == "flow_error"


def test_option_keys_win_over_their_position_numbers() -> None:
    flow = flow_of(
        """
        flow: k
        start: menu
        steps:
          menu:
            type: menu
            text: Elige
            slot: pick
            options:
              - {key: 2, label: Pagar, next: bye}
              - {key: 1, label: Asesor, next: bye}
          bye: {type: end, text: Chao.}
        """
    )
    chat = Chat(flow)
    chat.start()
    chat.send("1")
    assert chat.slots["pick"] == "1"  # the option whose key is 1, not the first listed


def test_enormous_numbers_are_refused_not_crashed_on() -> None:
    assert not check("9" * 5000, Rules(type="integer")).ok
    assert not check("9" * 5000, Rules(type="number")).ok
    assert not check("x" * 10_000, Rules(type="text")).ok
    assert check("150.000", Rules(type="integer")).value == 150000


def test_number_patterns_and_lengths_see_the_number_not_its_float() -> None:
    rules = Rules(type="number", pattern=__import__("re").compile("[0-9]+"), max_length=5)
    assert check("50.000", rules).value == 50000.0
    assert check("50000", rules).ok
    assert not check("500000", rules).ok


def test_step_ids_starting_with_two_underscores_are_reserved() -> None:
    loaded = load(
        """
        flow: r
        start: hola
        steps:
          hola: {type: say, text: Hola, next: __handoff__}
          __handoff__: {type: end, text: Adiós}
        """
    )
    assert loaded.flow is None
    assert len(errors(loaded.problems)) >= 2  # the step id and the reference to it


def test_customer_texts_in_flow_tests_are_sent_as_written(tmp_path: Path) -> None:
    write(
        tmp_path,
        "f.yaml",
        """
        flow: f
        start: ask
        steps:
          ask: {type: ask, text: "Valor", slot: v}
          show: {type: end, text: "{{ slots.v }}"}
        """,
    )
    write(
        tmp_path / "tests",
        "f.yaml",
        """
        flow: f
        cases:
          - name: as written
            steps:
              - user: hola
              - user: 150.000   # not the float 150.0
              - bot: "150.000"
              - user: hola
              - {user: 0123}
              - slots: {v: "0123"}
        """,
    )
    flows, _, _ = load_paths([tmp_path])
    report = run_flow_tests([tmp_path / "tests"], flows)
    assert report.ok, [r.failure for r in report.results]
