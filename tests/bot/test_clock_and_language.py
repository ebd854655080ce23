"""Where the chat's clock is (`now`, `today` in the campaign's timezone) and `language`."""

from __future__ import annotations

from datetime import UTC, datetime

from centralita.bot.directory import MemoryDirectory
from centralita.bot.engine import CustomerRecord, Engine
from centralita.bot.inputs import Rules, check
from centralita.bot.templates import compile_template

from .helpers import Chat, flow_of

CLOCK = """
flow: clock
languages: [es, en]
start: ask
steps:
  ask: {type: ask, text: "Documento", slot: doc}
  find: {type: lookup, document: "{{ slots.doc }}", on: {found: show, not_found: show}}
  show:
    type: say
    text: "{{ today.isoformat() }} {{ now.strftime('%H:%M') }} {{ language }} {{ campaign.slug }}"
  promise: {type: ask, text: "Fecha", slot: fecha, validate: {type: date}}
  days: {type: set, values: {dias: "{{ ((slots.fecha | as_date) - today).days }}"}}
  bye: {type: end, text: "{{ slots.dias }}"}
"""


class Directory:
    def find(self, document, campaigns):
        if document == "1":
            return [
                CustomerRecord("mx", "México", "1", "Ana", campaign_timezone="America/Mexico_City")
            ]
        return []


def test_today_is_the_date_where_the_chat_is_not_utc() -> None:
    # 02:30 UTC on 3 March is still 2 March in Bogotá (the default) and in Mexico City.
    chat = Chat(flow_of(CLOCK), Directory())
    chat.now = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    chat.start()
    turn = chat.send("999")
    assert turn.texts[0] == "2026-03-02 21:30 es "  # no campaign yet
    chat.send("03/03/2026")
    assert chat.slots["dias"] == 1  # tomorrow, not today as UTC would say


def test_the_campaign_timezone_wins_once_the_customer_is_known() -> None:
    chat = Chat(flow_of(CLOCK), Directory())
    chat.now = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    chat.start()
    assert chat.send("1").texts[0] == "2026-03-02 20:30 es mx"


def test_an_unknown_campaign_timezone_falls_back_to_the_engine_default() -> None:
    engine = Engine(flows=None, directory=None, timezone="America/Lima")  # type: ignore[arg-type]
    assert str(engine.zone({"timezone": "Mars/Olympus"})) == "America/Lima"
    assert str(engine.zone({"timezone": "America/Santiago"})) == "America/Santiago"


def test_language_is_visible_to_templates() -> None:
    chat = Chat(flow_of(CLOCK), Directory(), language="en")
    chat.start()
    assert chat.send("999").texts[0].split()[2] == "en"


def test_money_reads_numbers_as_customer_files_write_them() -> None:
    template = compile_template("{{ a | money }} {{ b | money }} {{ c | money }} {{ d | money }}")
    context = {"a": "1.250.000", "b": 150000, "c": "1250000,5", "d": "no es número"}
    assert template.render(context) == "$1.250.000 $150.000 $1.250.000 no es número"


def test_a_document_needs_a_digit() -> None:
    assert not check("hola", Rules(type="document")).ok
    assert check("AB123456", Rules(type="document")).value == "AB123456"
    assert check("1.012.345-678", Rules(type="document")).value == "1012345678"


def test_memory_directory_is_unaffected_by_campaign_timezones() -> None:
    directory = MemoryDirectory({"c": "C"})
    directory.add("c", {"documento": "1.2.3", "nombre": "Ana"})
    assert [r.name for r in directory.find("123", None)] == ["Ana"]
