"""A customer file's batches, parsed and encoded for the database: in this process, or in a
child process (opt-in: `import_customers(..., parallel=True)`, the benchmark's `--parallel`).

Why a process: parsing is pure Python (about 15 µs a row), and so is much of the writing
(SQLite's inserts run in this process and need the GIL for every row's parameters), so the
two threads of `importer.py` took turns on one core. A child process parses and encodes on
another core while this one writes; what crosses between them is each batch's encoded
payload (COPY text as bytes for PostgreSQL, parameter tuples for SQLite), its rejected rows
and warnings, and the rows' cells for duplicate reports. The pipe holds a batch or two:
memory stays flat, the child waits when the writer is behind.

The child opens the file again by its path, so the result is the same batches, in the same
order, as parsing here would give (tests/customers/test_import.py checks both ways).

Why opt-in: it pays only where a core is free. On the 2-core development machine, shared
with other work, it was no faster, and the second interpreter (about 120 MB at its peak, with
phonenumbers' metadata) would take the import past its 200 MB memory budget. Starting it
costs about half a second (spawn: the interpreter and these modules, imported afresh; the
parent's main module must be import-safe, as every entry point of the project is).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from centralita.customers.parsing import CustomerParser, CustomerRow, Rejected, RowWarning
from centralita.customers.phones import E164Phones
from centralita.customers.sources import open_source
from centralita.customers.values import Cell, cell_text

# Separates a row's cells while it waits for the writer's verdict: the ASCII unit separator,
# which no one types in a spreadsheet.
SEPARATOR = "\x1f"

# The batch as the database wants it (from the writer class, run where the parsing runs).
Encode = Callable[[list[CustomerRow], int, datetime], Any]


class Encoded(NamedTuple):
    """One parsed batch, ready for the writer."""

    read: int
    warnings: list[RowWarning]
    rejected: list[Rejected]
    payload: Any
    cells: list[tuple[int, str]]  # (line, the row's cells joined by SEPARATOR), rows sent
    position: int


def joined(cells: Sequence[Cell]) -> str:
    try:
        return SEPARATOR.join(cells)  # type: ignore[arg-type]  # CSV cells: all text
    except TypeError:  # XLSX: numbers, dates...
        return SEPARATOR.join(map(cell_text, cells))


def encoded_batches(
    parser: CustomerParser, encode: Encode, campaign_id: int, now: datetime, batch_rows: int
) -> Iterator[Encoded]:
    """The parser's batches, encoded, in this process."""
    for batch in parser.batches(batch_rows):
        yield Encoded(
            batch.read,
            batch.warnings,
            batch.rejected,
            encode(batch.rows, campaign_id, now),
            [(row.line, joined(row.cells)) for row in batch.rows],
            batch.position,
        )


def can_start_a_process() -> bool:
    """Daemonic processes (some job runners' workers) may not start children."""
    return not multiprocessing.current_process().daemon


def encoded_batches_elsewhere(
    parser: CustomerParser, encode: Encode, campaign_id: int, now: datetime, batch_rows: int
) -> Iterator[Encoded]:
    """The same batches as `encoded_batches`, parsed in a child process. Errors there (a file
    that breaks off midway) are raised here, as they would be in this process."""
    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    ours, theirs = context.Pipe(duplex=False)
    child = context.Process(
        target=_child,
        args=(theirs, parser.source.path, parser.phones.region, encode, campaign_id, now),
        kwargs={"batch_rows": batch_rows},
        name="customer-import-parser",
        daemon=True,
    )
    child.start()
    theirs.close()
    try:
        while True:
            try:
                kind, value = ours.recv()
            except EOFError:
                raise RuntimeError(
                    f"the parsing process ended unexpectedly (exit code {child.exitcode})"
                ) from None
            if kind == "batch":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        if child.is_alive():  # the import stopped early (an error, the writer refused)
            child.terminate()
        child.join()
        ours.close()


def _child(
    conn: Connection,
    path: Path,
    region: str,
    encode: Encode,
    campaign_id: int,
    now: datetime,
    *,
    batch_rows: int,
) -> None:
    try:
        with open_source(path) as source:
            parser = CustomerParser(source, E164Phones(region))
            for batch in encoded_batches(parser, encode, campaign_id, now, batch_rows):
                conn.send(("batch", batch))
        conn.send(("done", None))
    except BaseException as exc:  # noqa: BLE001  (the process's boundary: handed to the parent)
        try:
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001  (an exception that cannot be pickled)
            conn.send(("error", RuntimeError(f"parsing failed: {exc!r}")))
    finally:
        conn.close()
