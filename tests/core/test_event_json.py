"""An event's JSON, as pages and other processes read it."""

from __future__ import annotations

import json

from centralita.core.events import Event


def test_every_field_goes_and_comes_back() -> None:
    item = Event("chat", chat_id=7, campaign_id=None, agent_ids=(3, 5), data={"texto": "ñ 🙂"})
    assert json.loads(item.to_json()) == {
        "kind": "chat",
        "chat_id": 7,
        "campaign_id": None,
        "agent_ids": [3, 5],
        "data": {"texto": "ñ 🙂"},
    }
    assert Event.from_json(item.to_json()) == item
    assert Event.from_json(Event("alert").to_json()) == Event("alert")
