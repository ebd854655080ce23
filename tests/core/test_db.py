from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.db import READ_ONLY, make_engine, normalize_url, transaction
from centralita.core.models import Channel, Chat, Contact


def _contact(address: str = "whatsapp:+573001234567") -> Contact:
    return Contact(address=address, phone=address.split(":")[-1], channel=Channel.WHATSAPP)


# -- SQLite connection set-up ----------------------------------------------------------------


def test_sqlite_is_in_wal_mode_with_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, sqlite_busy_timeout=2.5)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    engine.dispose()
    # WAL is a property of the file: any other program opening it sees it too.
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_relative_sqlite_path_gets_its_directory_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite:///instance/nested/centralita.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert (tmp_path / "instance" / "nested" / "centralita.db").is_file()


def _counter_engine(url: str, busy_timeout: float = 5.0) -> Engine:
    engine = make_engine(url, sqlite_busy_timeout=busy_timeout)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    return engine


def test_sqlite_writers_take_turns_instead_of_losing_updates(sqlite_url: str) -> None:
    """Two read-then-write transactions: the second waits for the first and sees its write.

    With pysqlite's own transaction handling, the second would read before the first commits
    (its SELECT runs outside any transaction) and write back a stale value.
    """
    engine = _counter_engine(sqlite_url)
    first_has_read = threading.Event()
    errors: list[OperationalError] = []

    def first() -> None:
        try:
            with engine.begin() as conn:
                n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                first_has_read.set()
                time.sleep(0.3)  # the second writer arrives meanwhile
                conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except OperationalError as exc:
            errors.append(exc)
            first_has_read.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_has_read.wait(5)
    started = time.monotonic()
    with engine.begin() as conn:
        n = conn.execute(text("SELECT n FROM counter")).scalar_one()
        conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
    waited = time.monotonic() - started
    thread.join(5)

    assert errors == []
    assert waited > 0.1  # it queued behind the first writer
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 2
    engine.dispose()


def test_a_sqlite_writer_gives_up_with_database_is_locked_after_the_busy_timeout(
    sqlite_url: str,
) -> None:
    engine = _counter_engine(sqlite_url, busy_timeout=0.2)
    with engine.connect() as holder:
        holder.execute(text("SELECT n FROM counter"))  # the write lock is taken at BEGIN
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
            conn.execute(text("SELECT n FROM counter"))
        assert time.monotonic() - started >= 0.15
        holder.rollback()
    engine.dispose()


def test_sqlite_read_only_connections_do_not_queue_behind_a_writer(sqlite_url: str) -> None:
    engine = _counter_engine(sqlite_url, busy_timeout=0.2)
    with engine.connect() as writer:
        writer.execute(text("UPDATE counter SET n = 5"))  # uncommitted
        with engine.connect() as reader:
            reader.execution_options(**{READ_ONLY: True})
            assert reader.execute(text("SELECT n FROM counter")).scalar_one() == 0
        writer.commit()
    engine.dispose()


# -- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["postgres://u:p@h:5432/db", "postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h/db"],
)
def test_postgres_urls_all_mean_psycopg(url: str) -> None:
    assert normalize_url(url).drivername == "postgresql+psycopg"
    engine = make_engine(url)  # connects lazily: no server needed
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


# -- on both databases -----------------------------------------------------------------------


def test_transaction_commits_when_the_block_ends(
    sessions: sessionmaker[Session], session: Session
) -> None:
    with transaction(sessions) as tx:
        tx.add(_contact())
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_transaction_rolls_back_on_error(sessions: sessionmaker[Session], session: Session) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction(sessions) as tx:
        tx.add(_contact())
        tx.flush()
        raise Boom
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), transaction(sessions) as tx:
        tx.add(Chat(contact_id=12345, number="whatsapp:+5760100000"))
