"""Writing a parsed customer file into a campaign's customer database.

Parsing and writing overlap: a writer thread owns the database connection and merges the
previous batch while the file is parsed, here or (opt-in) in a child process on another core
(`parallel.py`: parsing is pure Python, and SQLite's inserts need the GIL for every row, so
two threads of one process partly take turns).

Per batch, the writer first records each document in a temporary `import_seen` table (document
-> first line); a row whose document is already there is a duplicate, rejected naming the
first line. That keeps memory flat however large the file (the set of seen documents lives in
the database) and makes the merge safe (one statement never touches a row twice). The others
are merged by (campaign, document): new ones inserted, changed ones updated, identical ones left
alone (no write at all, so re-importing the same file is cheap). In `replace` mode, customers
of the campaign whose document is not in `import_seen` at the end are retired (`retired_at`),
not deleted: chats in flight point at them. On PostgreSQL batches are COPYed into a
temporary table and merged every PG_MERGE_ROWS rows with one INSERT ... ON CONFLICT DO UPDATE
(which also claims the documents and finds the duplicates); on SQLite each batch is one
executemany of the same upsert.

Transactions: PostgreSQL imports in one transaction; readers are never blocked. SQLite has one
writer at a time, so in `upsert` mode it commits every COMMIT_EVERY rows to let the app's own
writes through; `replace` is always one transaction (the swap is atomic).
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, text

from centralita.core.models import Customer, utcnow
from centralita.customers.encoding import SqlitePayload, encode_copy, encode_sqlite
from centralita.customers.parallel import (
    Encode,
    RowCells,
    encoded_batches,
    encoded_batches_elsewhere,
)
from centralita.customers.parsing import (
    DEFAULT_BATCH_ROWS,
    CustomerParser,
    Rejected,
    RowWarning,
)

COMMIT_EVERY = 100_000  # SQLite, upsert mode: rows per transaction
# PostgreSQL: rows COPYed before one merge. Each merge has a fixed cost (a TRUNCATE of the
# staging table is tens of milliseconds); the rows are in the database meanwhile, not here.
PG_MERGE_ROWS = 50_000
PG_TEMP_BUFFERS = "128MB"  # per import session, on the server, only as used
_SQLITE_IN_CHUNK = 500  # parameters per `IN (...)` when looking duplicates up
# Files from this size are parsed in a child process (`parallel.py`) when the machine has a
# second core. On a quiet 2-core machine a million-row file went from 33,700 to 58,500 rows/s
# on SQLite and from 48,000 to 53,600 on PostgreSQL that way, inside the memory budget
# (docs/benchmarks.md); below this size (about 80,000 rows) the child's start-up and its
# extra memory are not worth it.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024


class ImportMode(StrEnum):
    UPSERT = "upsert"  # insert new documents, update the others; nobody is removed
    REPLACE = "replace"  # the file becomes the campaign's database; absent ones are retired


class ImportRefused(Exception):
    """The import cannot go ahead (unknown campaign, nothing valid to replace with); nothing
    was changed. The message says why, for the administrator."""


@dataclass
class ImportCounts:
    read: int = 0  # data rows in the file
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    rejected: int = 0
    warnings: int = 0


@dataclass
class ImportHooks:
    """Where rejected rows, warnings and progress go, in line order as they are known."""

    rejected: Callable[[Rejected], None] = lambda _row: None
    warning: Callable[[RowWarning], None] = lambda _warning: None
    progress: Callable[[int], None] = lambda _position: None


# A duplicate found by the writer: (line, document, line of the first occurrence).
Duplicate = tuple[int, str, int]
# The writer's answer for one or more batches (in order): their indexes, their duplicates.
Answer = tuple[list[int], list[Duplicate]]


def wants_parallel(
    parser: CustomerParser,
    *,
    cores: int | None = None,
    from_bytes: int = PARALLEL_FROM_BYTES,
) -> bool:
    """Whether to parse the parser's file in a child process: it is large and a second core
    can take the parsing while this process writes."""
    cores = os.cpu_count() if cores is None else cores
    if (cores or 1) < 2:
        return False
    try:
        return parser.source.path.stat().st_size >= from_bytes
    except OSError:
        return False


def import_customers(
    engine: Engine,
    campaign: str,
    parser: CustomerParser,
    *,
    mode: ImportMode = ImportMode.UPSERT,
    hooks: ImportHooks | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    now: datetime | None = None,
    parallel: bool | None = None,
) -> ImportCounts:
    """Import the parser's file into `campaign`. Raises ImportRefused (nothing changed),
    UnusableFile (the file broke off midway; nothing changed on PostgreSQL or in replace mode)
    or a database error. `parallel`: parse in a child process (see `parallel.py`); by
    default only for a large file on a machine with a second core (`wants_parallel`)."""
    if parallel is None:
        parallel = wants_parallel(parser)
    hooks = hooks or ImportHooks()
    writer_class = _PostgresWriter if engine.dialect.name == "postgresql" else _SqliteWriter
    pipeline = _Pipeline(engine, writer_class, campaign, mode, now or utcnow())
    counts = ImportCounts()
    # Batches sent to the writer and not yet answered: their rejected rows wait for the
    # duplicates the writer finds, so that rows are reported in line order. Only the rows'
    # cells are kept, joined in one string per batch (`RowCells`), for the report of a row
    # that turns out to be a duplicate.
    pending: deque[tuple[int, RowCells, list[Rejected]]] = deque()

    def acknowledge(answer: Answer) -> None:
        indexes, duplicates = answer
        rejected: list[Rejected] = []
        cells: dict[int, list[str]] = {}
        wanted = {line for line, _, _ in duplicates}
        for index in indexes:
            done, rows, batch_rejected = pending.popleft()
            assert done == index, "the writer answers batches in order"
            rejected += batch_rejected
            if duplicates:
                cells.update(rows.of_lines(wanted))
        if duplicates:
            rejected += [
                Rejected(
                    line,
                    f"duplicate document {document} (first on line {first})",
                    cells[line],
                )
                for line, document, first in duplicates
            ]
            rejected.sort(key=lambda row: row.line)
        counts.rejected += len(rejected)
        for row in rejected:
            hooks.rejected(row)

    campaign_id = pipeline.start()
    batches = encoded_batches_elsewhere if parallel else encoded_batches
    try:
        accepted = 0
        stamp = writer_class.stamp(pipeline.now)
        encoded = batches(parser, writer_class.encode, campaign_id, stamp, batch_rows)
        for index, batch in enumerate(encoded):
            counts.read += batch.read
            counts.warnings += len(batch.warnings)
            for warning in batch.warnings:
                hooks.warning(warning)
            pending.append((index, batch.cells, batch.rejected))
            accepted += batch.cells.size
            pipeline.send(index, batch.payload)
            for answer in pipeline.answers(wait=False):
                acknowledge(answer)
            hooks.progress(batch.position)
        for answer in pipeline.finish(accepted):
            acknowledge(answer)
    except BaseException:
        pipeline.abort()
        raise
    totals = pipeline.totals
    counts.inserted, counts.updated, counts.retired = (
        totals.inserted,
        totals.updated,
        totals.retired,
    )
    counts.unchanged = counts.read - counts.rejected - counts.inserted - counts.updated
    return counts


# -- the writer thread -------------------------------------------------------------------------


@dataclass
class _Totals:
    inserted: int = 0
    updated: int = 0
    retired: int = 0


class _Writer:
    """One import's database side, on one connection, in the writer thread."""

    # Encoded batches that may wait for the writer (bounds memory; a few megabytes each).
    queue_batches = 1

    def __init__(self, conn: Connection, mode: ImportMode, now: datetime) -> None:
        self.conn = conn
        self.mode = mode
        self.now = now
        self.totals = _Totals()
        self.campaign_id = 0
        self.raw: Any = None  # the driver's connection (psycopg or sqlite3), once begun

    # The batch as this database wants it (run where the parsing runs: `encoding.py`).
    encode: Encode

    @staticmethod
    def stamp(now: datetime) -> Any:
        """The import's time as `encode` writes it (SQLite: as SQLAlchemy stores it)."""
        return now

    def begin(self, slug: str) -> int:
        raise NotImplementedError

    def write(self, index: int, payload: Any) -> list[Answer]:
        """Take batch `index`; answer it (and any batches held before) now or later."""
        raise NotImplementedError

    def flush(self) -> list[Answer]:
        """Answer the batches still held."""
        return []

    def finish(self, accepted: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Clean up, whether or not the import succeeded (the connection goes back to a pool)."""

    def _campaign(self, slug: str, lock: str) -> int:
        campaign_id = self.conn.execute(
            text(f"SELECT id FROM campaigns WHERE slug = :slug{lock}"), {"slug": slug}
        ).scalar()
        if campaign_id is None:
            raise ImportRefused(
                f"no campaign {slug!r}: create it first with `centralita campaigns create`"
            )
        self.campaign_id = int(campaign_id)
        return self.campaign_id

    def _refuse_empty_replace(self, accepted: int) -> None:
        if self.mode is ImportMode.REPLACE and accepted == 0:
            raise ImportRefused(
                "no valid rows in the file: a replace would retire every customer of the "
                "campaign, so nothing was changed"
            )


@dataclass
class _Pipeline:
    """The parsing thread's handle on the writer thread."""

    engine: Engine
    writer_class: type[_Writer]
    campaign: str
    mode: ImportMode
    now: datetime
    totals: _Totals = field(default_factory=_Totals)

    def __post_init__(self) -> None:
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue(
            maxsize=self.writer_class.queue_batches
        )
        self._outbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._aborted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="customer-import", daemon=True)

    def start(self) -> int:
        """Start the writer; the campaign's id once it holds the campaign (or ImportRefused)."""
        self._thread.start()
        kind, value = self._outbox.get()
        if kind == "error":
            self._thread.join()
            raise value
        return int(value)

    def send(self, index: int, payload: Any) -> None:
        while True:
            try:
                self._inbox.put(("batch", (index, payload)), timeout=0.2)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    self._raise_error()

    def answers(self, *, wait: bool) -> list[Answer]:
        done: list[Answer] = []
        while True:
            try:
                kind, value = self._outbox.get(block=wait)
            except queue.Empty:
                return done
            if kind == "error":
                self._thread.join()
                raise value
            if kind == "finished":
                self.totals = value
                return done
            done.append(value)

    def finish(self, accepted: int) -> list[Answer]:
        self.send(-1, accepted)
        done = self.answers(wait=True)
        self._thread.join()
        return done

    def abort(self) -> None:
        self._aborted.set()
        self._thread.join()

    def _raise_error(self) -> None:
        while True:
            kind, value = self._outbox.get()
            if kind == "error":
                raise value

    def _run(self) -> None:
        try:
            with self.engine.connect() as conn:
                writer = self.writer_class(conn, self.mode, self.now)
                try:
                    self._outbox.put(("ready", writer.begin(self.campaign)))
                    while True:
                        try:
                            _, (index, payload) = self._inbox.get(timeout=0.2)
                        except queue.Empty:
                            if self._aborted.is_set():
                                return  # rolled back as the connection closes
                            continue
                        if self._aborted.is_set():
                            return
                        if index < 0:
                            for answer in writer.flush():
                                self._outbox.put(("batch", answer))
                            writer.finish(payload)
                            conn.commit()
                            self._outbox.put(("finished", writer.totals))
                            return
                        for answer in writer.write(index, payload):
                            self._outbox.put(("batch", answer))
                finally:
                    writer.close()
        except BaseException as exc:  # noqa: BLE001  (the thread's boundary: handed to the parser)
            self._outbox.put(("error", exc))


# -- PostgreSQL --------------------------------------------------------------------------------

_PG_SETUP = """
CREATE TEMPORARY TABLE import_batch (
    line integer NOT NULL,
    document text COLLATE "C" NOT NULL,
    document_type text,
    name text NOT NULL,
    phone text,
    extra jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE import_seen (
    document text COLLATE "C" PRIMARY KEY,
    line integer NOT NULL
) ON COMMIT DROP;
"""

_PG_COPY = "COPY import_batch (line, document, document_type, name, phone, extra) FROM STDIN"

# Each document's first row in the batch claims it in import_seen; rows that claimed their
# document are merged, the others are duplicates. The claim is a plain insert of the documents
# not there yet (NOT EXISTS), not ON CONFLICT DO NOTHING: only this session writes its
# temporary table and `firsts` has each document once, so nothing can conflict, and the
# speculative insertion of ON CONFLICT cost about 10% of the merge. `xmax = 0` tells an
# inserted row from an updated one. Every part of one statement sees the same snapshot:
# import_seen without this statement's claims, so a duplicate's first line is there when it
# came in an earlier statement, else it is the first line of the document in this batch
# (`firsts`).
_PG_MERGE = """
WITH firsts AS MATERIALIZED (
    SELECT DISTINCT ON (document) document, line FROM import_batch ORDER BY document, line
), claimed AS (
    INSERT INTO import_seen (document, line)
    SELECT f.document, f.line FROM firsts f
    WHERE NOT EXISTS (SELECT 1 FROM import_seen s WHERE s.document = f.document)
    RETURNING line
), merged AS (
    INSERT INTO customers AS c
        (campaign_id, document, document_type, name, phone, extra, created_at, updated_at)
    SELECT %(campaign)s, b.document, b.document_type, b.name, b.phone, b.extra,
           %(now)s, %(now)s
    FROM import_batch b
    WHERE b.line IN (SELECT line FROM claimed)
    ON CONFLICT (campaign_id, document) DO UPDATE SET
        document_type = excluded.document_type,
        name = excluded.name,
        phone = excluded.phone,
        extra = excluded.extra,
        updated_at = excluded.updated_at,
        retired_at = NULL
    WHERE c.retired_at IS NOT NULL
       OR (c.document_type, c.name, c.phone, c.extra)
          IS DISTINCT FROM (excluded.document_type, excluded.name, excluded.phone, excluded.extra)
    RETURNING xmax = 0 AS inserted
), counted AS (
    SELECT count(*) FILTER (WHERE inserted) AS inserted,
           count(*) FILTER (WHERE NOT inserted) AS updated
    FROM merged
), duplicates AS (
    SELECT b.line, b.document,
           coalesce((SELECT s.line FROM import_seen s WHERE s.document = b.document), f.line)
               AS first
    FROM import_batch b JOIN firsts f ON f.document = b.document
    WHERE b.line NOT IN (SELECT line FROM claimed)
)
SELECT counted.inserted, counted.updated, d.line, d.document, d.first
FROM counted LEFT JOIN duplicates d ON true
"""

_PG_RETIRE = """
UPDATE customers AS c SET retired_at = %(now)s
WHERE c.campaign_id = %(campaign)s AND c.retired_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM import_seen s WHERE s.document = c.document COLLATE "C")
"""


class _PostgresWriter(_Writer):
    # Parsing goes on while a merge runs: enough room for the batches of the next merge.
    queue_batches = PG_MERGE_ROWS // DEFAULT_BATCH_ROWS + 1

    encode = staticmethod(encode_copy)

    def begin(self, slug: str) -> int:
        # One import per campaign at a time: the second waits for the first to commit.
        campaign_id = self._campaign(slug, " FOR UPDATE")
        self.raw = self.conn.connection.driver_connection
        assert self.raw is not None
        with self.raw.cursor() as cursor:
            # The merge's cost estimates (no statistics on temporary tables) would have JIT
            # spend half a second compiling each merge, for nothing.
            cursor.execute("SET LOCAL jit = off")
            try:
                # Room for the temporary tables in memory (the default, 8 MB, makes them spill
                # to disk). Allowed only before a session's first temporary table: a pooled
                # connection that already had one keeps its setting.
                with self.raw.transaction():
                    cursor.execute(f"SET LOCAL temp_buffers = '{PG_TEMP_BUFFERS}'")
            except psycopg.errors.InvalidParameterValue:
                pass
            cursor.execute(_PG_SETUP)
        self.held: list[int] = []  # batches copied into import_batch, not merged yet
        self.held_rows = 0
        return campaign_id

    def write(self, index: int, payload: tuple[int, bytes]) -> list[Answer]:
        rows, data = payload
        with self.raw.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
            copy.write(data)
        self.held.append(index)
        self.held_rows += rows
        return self.flush() if self.held_rows >= PG_MERGE_ROWS else []

    def flush(self) -> list[Answer]:
        if not self.held:
            return []
        params = {"campaign": self.campaign_id, "now": self.now}
        with self.raw.cursor() as cursor:
            cursor.execute(_PG_MERGE, params)
            found = cursor.fetchall()
            # TRUNCATE, not DELETE: dead rows would stay (no VACUUM inside a transaction)
            # and every later merge would scan them.
            cursor.execute("TRUNCATE import_batch")
        inserted, updated = found[0][0], found[0][1]
        self.totals.inserted += inserted
        self.totals.updated += updated
        duplicates = [(int(a), str(b), int(c)) for _, _, a, b, c in found if a is not None]
        answer = (self.held, sorted(duplicates))
        self.held, self.held_rows = [], 0
        return [answer]

    def finish(self, accepted: int) -> None:
        self._refuse_empty_replace(accepted)
        if self.mode is ImportMode.REPLACE:
            with self.raw.cursor() as cursor:
                cursor.execute("ANALYZE import_seen")  # temporary tables get no autovacuum
                cursor.execute(_PG_RETIRE, {"campaign": self.campaign_id, "now": self.now})
                self.totals.retired = cursor.rowcount


# -- SQLite ------------------------------------------------------------------------------------

_SQLITE_SETUP = (
    "DROP TABLE IF EXISTS temp.import_seen",
    # WITHOUT ROWID: the document's B-tree is the table, one insert instead of two.
    "CREATE TEMPORARY TABLE import_seen (document TEXT PRIMARY KEY, line INTEGER NOT NULL)"
    " WITHOUT ROWID",
)
_SQLITE_SEEN = "INSERT INTO temp.import_seen (document, line) VALUES (?, ?) ON CONFLICT DO NOTHING"
_SQLITE_MERGE = """
INSERT INTO customers
    (campaign_id, document, document_type, name, phone, extra, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, document) DO UPDATE SET
    document_type = excluded.document_type,
    name = excluded.name,
    phone = excluded.phone,
    extra = excluded.extra,
    updated_at = excluded.updated_at,
    retired_at = NULL
WHERE customers.retired_at IS NOT NULL
   OR customers.document_type IS NOT excluded.document_type
   OR customers.name IS NOT excluded.name
   OR customers.phone IS NOT excluded.phone
   OR customers.extra IS NOT excluded.extra
"""
_SQLITE_RETIRE = """
UPDATE customers SET retired_at = ?
WHERE campaign_id = ? AND retired_at IS NULL
  AND document NOT IN (SELECT document FROM temp.import_seen)
"""
# Bigger page caches than the default 2 MB: the customers indexes take random inserts.
_SQLITE_CACHE_KIB = 32 * 1024


def _sqlite_processors() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """SQLAlchemy's own conversions for customers.extra and timestamps on SQLite, so rows
    written here read back exactly like rows written through the models."""
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    table = Customer.__table__
    extra = table.c.extra.type.dialect_impl(dialect).bind_processor(dialect)
    moment = table.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert extra is not None and moment is not None
    return extra, moment


class _SqliteWriter(_Writer):
    encode = staticmethod(encode_sqlite)

    @staticmethod
    def stamp(now: datetime) -> Any:
        _, to_time = _sqlite_processors()
        return to_time(now)

    def begin(self, slug: str) -> int:
        self.conn.begin()  # BEGIN IMMEDIATE (core/db.py): the write lock, before any raw use
        campaign_id = self._campaign(slug, "")
        self.raw = self.conn.connection.driver_connection
        assert self.raw is not None
        self.raw.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
        self.stamped = self.stamp(self.now)
        for statement in _SQLITE_SETUP:
            self.raw.execute(statement)
        self.before = self._count()
        self.changes = 0
        self.uncommitted = 0
        return campaign_id

    def _count(self) -> int:
        cursor = self.raw.execute(
            "SELECT count(*) FROM customers WHERE campaign_id = ?", (self.campaign_id,)
        )
        return int(cursor.fetchone()[0])

    def write(self, index: int, payload: SqlitePayload) -> list[Answer]:
        cursor = self.raw.cursor()
        seen = payload.seen()
        cursor.executemany(_SQLITE_SEEN, seen)
        merge: Sequence[tuple[Any, ...]] = payload.merge(self.campaign_id, self.stamped)
        duplicates: list[Duplicate] = []
        if cursor.rowcount != len(seen):
            duplicates = self._duplicates(seen)
            dropped = {line for line, _, _ in duplicates}
            merge = [
                params for (_, line), params in zip(seen, merge, strict=True) if line not in dropped
            ]
        cursor.executemany(_SQLITE_MERGE, merge)
        self.changes += cursor.rowcount
        self.uncommitted += len(merge)
        if self.mode is ImportMode.UPSERT and self.uncommitted >= COMMIT_EVERY:
            self.conn.commit()
            self.conn.begin()
            self.uncommitted = 0
        return [([index], duplicates)]

    def _duplicates(self, seen: list[tuple[str, int]]) -> list[Duplicate]:
        documents = list({document for document, _ in seen})
        first: dict[str, int] = {}
        for start in range(0, len(documents), _SQLITE_IN_CHUNK):
            chunk = documents[start : start + _SQLITE_IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            first.update(
                self.raw.execute(
                    f"SELECT document, line FROM temp.import_seen WHERE document IN ({marks})",
                    chunk,
                ).fetchall()
            )
        return [
            (line, document, first[document]) for document, line in seen if first[document] != line
        ]

    def finish(self, accepted: int) -> None:
        self._refuse_empty_replace(accepted)
        if self.mode is ImportMode.REPLACE:
            _, to_time = _sqlite_processors()
            cursor = self.raw.execute(_SQLITE_RETIRE, (to_time(self.now), self.campaign_id))
            self.totals.retired = cursor.rowcount
        self.totals.inserted = self._count() - self.before
        self.totals.updated = self.changes - self.totals.inserted

    def close(self) -> None:
        if self.conn.in_transaction():
            return  # rolled back with the connection; the temporary table goes with it
        self.raw.execute("DROP TABLE IF EXISTS temp.import_seen")
