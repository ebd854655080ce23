"""Engines, sessions and transactions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT = 5.0  # seconds a writer waits for another writer before "database is locked"
POSTGRES_CONNECT_TIMEOUT = 10  # seconds; libpq waits forever by default on an unreachable host

# Connection execution option: begin SQLite transactions DEFERRED instead of IMMEDIATE, for
# read-only work that must never queue behind a writer (health checks, listings).
READ_ONLY = "centralita_read_only"


def normalize_url(url: str | URL) -> URL:
    """`postgres://` and `postgresql://` mean psycopg 3, the one PostgreSQL driver installed."""
    url = make_url(url)
    if url.drivername in {"postgres", "postgresql"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(
    url: str | URL,
    *,
    sqlite_busy_timeout: float = SQLITE_BUSY_TIMEOUT,
    sqlite_foreign_keys: bool = True,
    **kwargs: Any,
) -> Engine:
    url = normalize_url(url)
    if url.get_backend_name() != "sqlite":
        if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
            kwargs.setdefault("connect_args", {}).setdefault(
                "connect_timeout", POSTGRES_CONNECT_TIMEOUT
            )
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        if not path.is_absolute():
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    _sqlite_setup(engine, busy_timeout=sqlite_busy_timeout, foreign_keys=sqlite_foreign_keys)
    return engine


def _sqlite_setup(engine: Engine, *, busy_timeout: float, foreign_keys: bool) -> None:
    """WAL, foreign keys, a busy timeout, and SQLAlchemy (not pysqlite) emitting BEGIN.

    This is SQLAlchemy's documented recipe for pysqlite: its own transaction handling skips
    BEGIN before SELECTs, so a transaction that reads and then writes takes the write lock
    late and fails at once with SQLITE_BUSY (no wait) when another writer got in between.
    `BEGIN IMMEDIATE` takes the write lock up front, so a second writer waits its turn.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # pysqlite must not emit BEGIN itself
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers go on while one writer writes; it persists in the file.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after their transaction, e.g. to build
    # the JSON answer or the jobs to enqueue once the commit is done.
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed if the block ends normally, else rolled back."""
    with sessions.begin() as session:
        yield session


def id_array(ids: Iterable[int]) -> str:
    """PostgreSQL's text form of an array of ids, for `= ANY(CAST(:ids AS bigint[]))`:
    psycopg adapts a Python list in Python element by element (≈ 0.5 ms of CPU per 500
    ids), the text in one go. `int()` keeps anything but ids out of it."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"
