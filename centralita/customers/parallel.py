"""A customer file's batches, parsed and encoded for the database: in this process, or in a
child process (`import_customers(..., parallel=True)`; by default for files from 8 MB on a
machine with a second core: `importer.wants_parallel`).

Why a process: parsing is pure Python (about 10 µs a row), and so is much of the writing
(SQLite's inserts run in this process and need the GIL for every row's parameters), so the
two threads of `importer.py` took turns on one core. A child process parses and encodes on
another core while this one writes; what crosses between them is each batch's encoded
payload (COPY text as bytes for PostgreSQL, packed columns for SQLite), its rejected rows
and warnings, and the rows' cells for duplicate reports (`RowCells`), pickled through a
pipe: a few large strings per batch, not objects per row, which pickle dearly. The pipe
holds a batch or two: memory stays flat, the child waits when the writer is behind.

The child is a lean interpreter (`python -m centralita.customers.parallel`), not a
multiprocessing one: multiprocessing's spawn imports the parent's main module again (the
CLI, with SQLAlchemy, Flask and the models: over 100 MB), where parsing needs only
`sources`, `parsing`, `phones` and `encoding` (about 25 MB). It opens the file again by
its path, so the result is the same batches, in the same order, as parsing here would give
(tests/customers/test_import.py checks both ways).

Why not always: it pays only where a core is free, and for a small file starting a second
interpreter costs more than the parsing it takes over. On a quiet 2-core machine a
million-row file went 73% faster on SQLite and 12-15% on PostgreSQL (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from centralita.customers.parsing import CustomerParser, CustomerRow, Rejected, RowWarning
from centralita.customers.phones import E164Phones
from centralita.customers.sources import open_source
from centralita.customers.values import Cell, cell_text

# Rows per batch in the child at most: a batch in the making (cells, rows, payload, its pickle)
# is most of the child's memory, about 4 KB a row at its peak, and the two processes share
# the import's memory budget.
CHILD_BATCH_ROWS = 5_000

# Separates a row's cells while it waits for the writer's verdict: the ASCII unit separator,
# which no one types in a spreadsheet.
SEPARATOR = "\x1f"

# The batch as the database wants it (`encoding.py`; run where the parsing runs): rows, the
# campaign's id and the import's time as the writer wants it.
Encode = Callable[[list[CustomerRow], int, Any], Any]


# Separates the rows of `RowCells`: the ASCII record separator.
RECORD = "\x1e"


class RowCells(NamedTuple):
    """The cells of a batch's rows sent to the writer, as read, for the report of a row that
    turns out to be a duplicate: each row's cells joined by SEPARATOR, the rows by RECORD,
    in one string, their lines an array: three objects to pickle per batch instead of two
    per row. A batch where some cell holds either separator goes as lists of cells."""

    size: int
    lines: bytes  # array("q")
    text: str | list[list[str]]

    @classmethod
    def of(cls, rows: list[CustomerRow]) -> RowCells:
        lines = array("q", map(itemgetter(0), rows)).tobytes()
        cells = list(map(_cells_of, rows))
        try:
            text = RECORD.join(map(SEPARATOR.join, cells))  # CSV cells: all text, in C
        except TypeError:  # XLSX: numbers, dates...
            text = RECORD.join(map(joined, cells))
        separators = sum(map(len, cells)) - len(rows)
        if text.count(RECORD) != len(rows) - 1 or text.count(SEPARATOR) != separators:
            return cls(len(rows), lines, [list(map(cell_text, row)) for row in cells])
        return cls(len(rows), lines, text)

    def of_lines(self, wanted: set[int]) -> dict[int, list[str]]:
        """The cells (as text) of the rows on the `wanted` lines that are in this batch."""
        if isinstance(self.text, list):
            rows: list[Any] = self.text
        else:
            rows = self.text.split(RECORD) if self.size else []
        return {
            line: row if isinstance(row, list) else row.split(SEPARATOR)
            for line, row in zip(array("q", self.lines), rows, strict=True)
            if line in wanted
        }


class Encoded(NamedTuple):
    """One parsed batch, ready for the writer."""

    read: int
    warnings: list[RowWarning]
    rejected: list[Rejected]
    payload: Any
    cells: RowCells  # of the rows sent to the writer
    position: int


_cells_of = itemgetter(6)  # CustomerRow -> cells


def joined(cells: Sequence[Cell]) -> str:
    try:
        return SEPARATOR.join(cells)  # type: ignore[arg-type]  # CSV cells: all text
    except TypeError:  # XLSX: numbers, dates...
        return SEPARATOR.join(map(cell_text, cells))


def encoded_batches(
    parser: CustomerParser, encode: Encode, campaign_id: int, stamp: Any, batch_rows: int
) -> Iterator[Encoded]:
    """The parser's batches, encoded, in this process."""
    for batch in parser.batches(batch_rows):
        # The parsed rows are dropped once encoded (only their joined cells are kept): the
        # caller may hold this batch while the next one is parsed.
        rows, batch.rows = batch.rows, []
        encoded = Encoded(
            batch.read,
            batch.warnings,
            batch.rejected,
            encode(rows, campaign_id, stamp),
            RowCells.of(rows),
            batch.position,
        )
        del rows
        yield encoded


def encoded_batches_elsewhere(
    parser: CustomerParser, encode: Encode, campaign_id: int, stamp: Any, batch_rows: int
) -> Iterator[Encoded]:
    """The same batches as `encoded_batches`, parsed in a child process. Errors there (a file
    that breaks off midway) are raised here, as they would be in this process."""
    child = subprocess.Popen(
        [sys.executable, "-m", "centralita.customers.parallel"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        rows = min(batch_rows, CHILD_BATCH_ROWS)
        job = (parser.source.path, parser.phones.region, encode, campaign_id, stamp, rows)
        with child.stdin:
            pickle.dump(job, child.stdin)
        while True:
            try:
                kind, value = pickle.load(child.stdout)
            except EOFError:
                child.wait()
                raise RuntimeError(
                    f"the parsing process ended unexpectedly (exit code {child.returncode})"
                ) from None
            if kind == "batch":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        if child.poll() is None:  # the import stopped early (an error, the writer refused)
            child.kill()
        child.wait()
        child.stdout.close()


def _child() -> None:
    """The child's side: the job from stdin, batches to stdout (pickled), then "done"."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print must not garble the batches
    try:
        path, region, encode, campaign_id, stamp, batch_rows = pickle.load(sys.stdin.buffer)
        with open_source(path) as source:
            parser = CustomerParser(source, E164Phones(region))
            for batch in encoded_batches(parser, encode, campaign_id, stamp, batch_rows):
                pickle.dump(("batch", batch), out, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("done", None), out)
    except BrokenPipeError:
        return  # the parent stopped reading: the import is over
    except BaseException as exc:  # noqa: BLE001  (the process's boundary: handed to the parent)
        try:
            pickle.dump(("error", exc), out)
        except Exception:  # noqa: BLE001  (an exception that cannot be pickled)
            pickle.dump(("error", RuntimeError(f"parsing failed: {exc!r}")), out)
    finally:
        with contextlib.suppress(BrokenPipeError):
            out.close()


if __name__ == "__main__":
    # Through the module's own name: what the child pickles (Encoded, ...) must be
    # `centralita.customers.parallel.X` for the parent, not `__main__.X`.
    from centralita.customers.parallel import _child as child

    child()
