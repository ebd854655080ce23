"""The sweep's bulk insert: every row stored as given, whether a column's value is the same in
every row (one parameter on PostgreSQL) or differs (carried in the JSON), and a conflicting
row skipped with nothing returned for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

from centralita.core.models import Alert, Campaign
from centralita.lifecycle.bulk import insert_rows

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def alert(n: int, **values: Any) -> dict[str, Any]:
    return {
        "kind": "unanswered",
        "key": f"k{n}",
        "chat_id": None,
        "campaign_id": None,
        "number": "whatsapp:+5716001234",
        "user_id": None,
        "details": {"n": n},
        "created_at": NOW,
    } | values


def test_rows_are_stored_as_given_whichever_columns_vary(session: Session) -> None:
    campaign = Campaign(slug="c", name="C")
    session.add(campaign)
    session.flush()
    table = cast(Table, Alert.__table__)
    rows = [
        alert(1, campaign_id=campaign.id),
        alert(2, campaign_id=campaign.id, created_at=NOW + timedelta(seconds=1)),
        alert(3, campaign_id=campaign.id, details=None),
    ]
    added = insert_rows(session, table, rows, ("key", "campaign_id"))
    assert sorted(tuple(r) for r in added) == [(f"k{n}", campaign.id) for n in (1, 2, 3)]
    # One row: every column is the same "in every row".
    [(key,)] = insert_rows(session, table, [alert(4, details={"a": [1, 2]})], ("key",))
    assert key == "k4"

    stored = {a.key: a for a in session.scalars(select(Alert))}
    assert stored["k1"].details == {"n": 1} and stored["k3"].details is None
    assert stored["k4"].details == {"a": [1, 2]} and stored["k4"].campaign_id is None
    assert [stored[k].created_at.replace(tzinfo=UTC) for k in ("k1", "k2")] == [
        NOW,
        NOW + timedelta(seconds=1),
    ]
    assert {a.number for a in stored.values()} == {"whatsapp:+5716001234"}
    assert {a.kind for a in stored.values()} == {"unanswered"}


def test_rows_whose_key_exists_are_skipped(session: Session) -> None:
    table = cast(Table, Alert.__table__)
    insert_rows(session, table, [alert(1)], ("key",))
    added = insert_rows(session, table, [alert(1), alert(2)], ("key",), skip_conflicts_on="key")
    assert [tuple(r) for r in added] == [("k2",)]
    assert sorted(session.scalars(select(Alert.key))) == ["k1", "k2"]


def test_values_are_stored_exactly_as_the_orm_stores_them(session: Session) -> None:
    # SQLite keeps datetimes and JSON as text: the bulk insert's text must be the ORM's, or
    # deadline comparisons and sorting would mix two formats. Each value is tried both as
    # a constant (one parameter) and as a varying column (in the JSON).
    later = NOW + timedelta(microseconds=1500)
    session.add(Alert(**alert(0, created_at=later, details={"n": 0, "ñ": [1.5, None]})))
    session.flush()
    table = cast(Table, Alert.__table__)
    same = [alert(n, created_at=later, details={"n": 0, "ñ": [1.5, None]}) for n in (1, 2)]
    varying = [alert(3, created_at=later, details={"n": 0, "ñ": [1.5, None]}), alert(4)]
    insert_rows(session, table, same, ("key",))
    insert_rows(session, table, varying, ("key",))
    raw = dict(
        session.execute(text("SELECT key, created_at || '|' || details FROM alerts")).tuples().all()
        if session.get_bind().dialect.name == "sqlite"
        else session.execute(
            text("SELECT key, created_at::text || '|' || details::text FROM alerts")
        )
        .tuples()
        .all()
    )
    assert raw["k1"] == raw["k2"] == raw["k3"] == raw["k0"]
