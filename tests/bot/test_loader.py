"""Compiled flows: one shared machine per content version, version pinning and hot reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transitions import MachineError

from centralita.bot.compiler import fire
from centralita.bot.loader import FlowLibrary, FlowSet, load_text
from centralita.bot.model import FALLBACK_HANDOFF, RETURN

from .helpers import Chat, dedent, flow_of, write

V1 = """
    flow: promo
    start: ask
    steps:
      ask:
        type: menu
        text: "¿Te interesa la promo?"
        options:
          - {key: si, label: Sí, next: yes_step}
          - {key: "no", label: "No"}
      no_step: {type: end, text: "Entendido."}
      yes_step: {type: end, text: "¡Genial! (v1)"}
    """
V2 = V1.replace("¡Genial! (v1)", "¡Excelente! (v2)")


def test_the_same_text_is_compiled_once() -> None:
    first = flow_of(V1)
    second = flow_of(V1)
    assert first is second
    assert first.machine is second.machine
    assert flow_of(V2).machine is not first.machine


def test_the_same_text_in_another_file_shares_the_machine_but_keeps_its_path() -> None:
    first = flow_of(V1, "a/promo.yaml")
    moved = flow_of(V1, "b/promo.yaml")
    assert moved.path == "b/promo.yaml" and first.path == "a/promo.yaml"
    assert moved.machine is first.machine


def test_the_machine_has_no_models_and_no_auto_transitions() -> None:
    flow = flow_of(V1)
    machine = flow.machine
    assert machine.models == []
    assert machine.auto_transitions is False
    assert not any(name.startswith("to_") for name in machine.events)
    assert set(machine.states) == {*flow.steps, RETURN}
    assert set(machine.events) == {"option_0", "option_1", "exhausted"}


def test_the_machine_holds_every_transition_of_the_flow() -> None:
    flow = flow_of(V1)
    assert fire(flow, "ask", "option_0") == "yes_step"
    assert fire(flow, "ask", "option_1") == "no_step"  # falls through to the next step
    assert fire(flow, "ask", "exhausted") == FALLBACK_HANDOFF
    with pytest.raises(MachineError):
        fire(flow, "no_step", "option_0")
    assert ("ask", "option_0", "yes_step") in flow.edges()


def test_a_chat_stays_on_the_version_it_started_with() -> None:
    flows = FlowSet()
    old = flow_of(V1)
    flows.add(old)
    chat = Chat(flows)
    chat.start()
    flows.add(flow_of(V2))
    assert flows.current("promo") is not old
    assert flows.version("promo", old.version) is old
    turn = chat.send("si")
    assert turn.effects[-1].text == "¡Genial! (v1)"  # type: ignore[union-attr]
    newcomer = Chat(flows)
    newcomer.start()
    assert newcomer.send("1").effects[-1].text == "¡Excelente! (v2)"  # type: ignore[union-attr]


def touch(path: Path, text: str) -> None:
    """Rewrite a file so that its modification stamp surely changes."""
    stat = path.stat()
    path.write_text(dedent(text), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_library_hot_reload_takes_a_valid_edit_and_keeps_old_chats_on_theirs(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "promo.yaml", V1)
    library = FlowLibrary(tmp_path)
    assert library.refresh() is False  # nothing changed
    chat = Chat(library, flow_id="promo")
    chat.start()
    touch(path, V2)
    assert library.refresh() is True
    current = library.current("promo")
    assert current is not None and current.version == load_text(dedent(V2), "x").flow.version  # type: ignore[union-attr]
    assert chat.send("si").effects[-1].text == "¡Genial! (v1)"  # type: ignore[union-attr]
    newcomer = Chat(library, flow_id="promo")
    newcomer.start()
    assert newcomer.send("si").effects[-1].text == "¡Excelente! (v2)"  # type: ignore[union-attr]


def test_library_keeps_serving_the_old_flow_after_an_invalid_edit(tmp_path: Path) -> None:
    path = write(tmp_path, "promo.yaml", V1)
    library = FlowLibrary(tmp_path)
    good = library.current("promo")
    assert good is not None and library.problems == []
    touch(path, V1.replace("next: yes_step", "next: yes_stpe"))
    assert library.refresh() is True
    assert library.current("promo") is good
    assert any("yes_stpe" in p.message for p in library.problems)
    # Fixing the file again is picked up.
    touch(path, V2)
    library.refresh()
    assert library.current("promo") is not good
    assert library.problems == []


def test_library_picks_up_a_new_file(tmp_path: Path) -> None:
    library = FlowLibrary(tmp_path)
    assert library.current("promo") is None
    write(tmp_path, "promo.yaml", V1)
    assert library.refresh() is True
    assert library.current("promo") is not None
