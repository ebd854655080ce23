"""The database side of the engine: customer lookup and stored flow versions, on both DBs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.bot.engine import DirectoryError
from centralita.bot.loader import FlowLibrary
from centralita.core.flowstore import StoredFlows, record_version
from centralita.core.lookup import DatabaseDirectory
from centralita.core.models import Campaign, Customer, FlowVersion

FLOW = """\
flow: hello
start: ask
steps:
  ask: {type: ask, text: "¿Documento?", slot: doc}
  bye: {type: end, text: "{{ greeting }}"}
"""


def _seed(session: Session) -> None:
    castigada = Campaign(slug="castigada", name="Cartera castigada")
    ventas = Campaign(slug="ventas", name="Ventas")
    old = Campaign(slug="vieja", name="Campaña vieja", active=False)
    session.add_all([castigada, ventas, old])
    session.flush()
    session.add_all(
        [
            Customer(
                campaign_id=castigada.id,
                document="1.012.345.678",
                name="Ana",
                extra={"saldo": 150000},
            ),
            Customer(campaign_id=ventas.id, document="1012345678", name="Ana P.", extra={}),
            Customer(campaign_id=old.id, document="1012345678", name="Ana vieja", extra={}),
            Customer(campaign_id=ventas.id, document="99", name="Bo", extra={}),
        ]
    )
    session.commit()


def test_lookup_finds_by_normalised_document_in_active_campaigns(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        _seed(session)
    directory = DatabaseDirectory(sessions)
    found = directory.find("1012345678", None)
    assert [(r.campaign, r.name) for r in found] == [("castigada", "Ana"), ("ventas", "Ana P.")]
    assert found[0].fields == {"saldo": 150000}
    assert found[0].as_context()["saldo"] == 150000
    # The number's campaigns narrow the search; an inactive campaign never counts.
    assert [r.campaign for r in directory.find("1.012.345-678", ["ventas", "vieja"])] == ["ventas"]
    assert directory.find("000", None) == []
    assert directory.find("1012345678", []) == []  # a number serving no campaign finds nobody
    # The same statements again (they are built once): other parameters, other rows.
    assert [r.name for r in directory.find("99", ["ventas"])] == ["Bo"]


def test_lookup_failure_is_a_directory_error(tmp_path: Path) -> None:
    from centralita.core.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: the query fails
    with pytest.raises(DirectoryError, match="customer lookup failed"):
        DatabaseDirectory(session_factory(engine)).find("1", None)
    engine.dispose()


def test_versions_are_stored_once_and_served_after_the_file_changes(
    tmp_path: Path, sessions: sessionmaker[Session], engine: Engine
) -> None:
    (tmp_path / "hello.yaml").write_text(FLOW.replace("{{ greeting }}", "Adiós"), encoding="utf-8")
    library = FlowLibrary(tmp_path)
    first = library.current("hello")
    assert first is not None
    with sessions() as session:
        record_version(session, first)
        record_version(session, first)  # idempotent
        session.commit()
        count = session.scalar(select(func.count()).select_from(FlowVersion))
    assert count == 1

    # A new process: only the edited file is on disk, the old version only in the database.
    (tmp_path / "hello.yaml").write_text(FLOW.replace("{{ greeting }}", "Chao"), encoding="utf-8")
    stored = StoredFlows(FlowLibrary(tmp_path), sessions)
    current = stored.current("hello")
    assert current is not None and current.version != first.version
    old = stored.version("hello", first.version)
    assert old is not None and old.version == first.version
    assert "Adiós" in old.source
    assert stored.version("hello", "0" * 64) is None


def test_flows_dir_is_hot_reloaded_and_an_invalid_edit_keeps_the_valid_flow(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(FLOW.replace("{{ greeting }}", "Adiós"), encoding="utf-8")
    stored = StoredFlows(FlowLibrary(tmp_path), sessions)
    stored.library.CHECK_EVERY = 0.0
    first = stored.current("hello")
    assert first is not None

    path.write_text(FLOW.replace("{{ greeting }}", "Chao, amigo"), encoding="utf-8")
    edited = stored.current("hello")
    assert edited is not None and edited.version != first.version
    assert stored.version("hello", first.version) is first  # chats on it keep it

    path.write_text(FLOW.replace("start: ask", "start: nowhere"), encoding="utf-8")
    assert stored.current("hello") is edited  # the broken edit does not replace it
    assert any("nowhere" in p.message for p in stored.library.problems)

    path.unlink()
    assert stored.current("hello") is None  # no file: no new chats on it
    assert stored.version("hello", edited.version) is edited


def test_an_old_version_is_read_while_a_message_holds_the_write_lock(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    import time

    (tmp_path / "hello.yaml").write_text(FLOW.replace("{{ greeting }}", "Uno"), encoding="utf-8")
    first = FlowLibrary(tmp_path).current("hello")
    assert first is not None
    with sessions.begin() as session:
        record_version(session, first)
    (tmp_path / "hello.yaml").write_text(FLOW.replace("{{ greeting }}", "Dos"), encoding="utf-8")
    stored = StoredFlows(FlowLibrary(tmp_path), sessions)  # a restarted process
    with sessions.begin() as writer:
        writer.add(Campaign(slug="lock", name="Holds the write lock"))
        writer.flush()
        began = time.monotonic()
        old = stored.version("hello", first.version)
        assert time.monotonic() - began < 2.0  # no wait for the busy timeout
    assert old is not None and "Uno" in old.source
