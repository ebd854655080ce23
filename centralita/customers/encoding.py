"""A batch of parsed customers as each database's writer wants it: COPY text for PostgreSQL,
packed columns for SQLite (the writer makes the parameter tuples: `SqlitePayload`).

Kept apart from `importer.py` (SQLAlchemy, psycopg, the models) so that the process that
parses a file in parallel (`parallel.py`) imports only what parsing needs: its memory counts
against the import's budget. Both are built column by column (`zip`, `map` and `%`
formatting run in C) rather than row by row.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple

from centralita.customers.parsing import CustomerRow

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"


def _needs_escaping(values: Sequence[str]) -> bool:
    """Whether any value holds a character COPY's text format escapes (one scan in C)."""
    joined = "".join(values)
    return "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined


def encode_copy(rows: list[CustomerRow], campaign_id: int, stamp: Any) -> tuple[int, bytes]:
    """COPY's text format: tab-separated, `\\N` for NULL, backslash escapes. Documents
    (letters and digits) and phones (E.164) never need escaping, names and extras only when
    some value does. (The campaign and the time are the merge's parameters, not COPYed.)"""
    if not rows:
        return 0, b""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    lines, documents, kinds, names, phones, extras = columns[:6]
    null = _COPY_NULL
    if _needs_escaping([kind for kind in kinds if kind]):
        kinds = [kind and kind.translate(_COPY_ESCAPES) for kind in kinds]
    kinds = [null if kind is None else kind for kind in kinds]
    if _needs_escaping(names):
        names = [name.translate(_COPY_ESCAPES) for name in names]
    phones = [phone or null for phone in phones]
    if "\\" in "".join(extras):  # JSON escapes the other characters itself
        extras = [extra.replace("\\", "\\\\") for extra in extras]
    data = "".join(
        map(
            "%d\t%s\t%s\t%s\t%s\t%s\n".__mod__,
            zip(lines, documents, kinds, names, phones, extras, strict=True),
        )
    )
    if "\x00" in data or "u0000" in data:
        # PostgreSQL text and jsonb cannot hold NUL: drop it (a stray byte, never data).
        data = data.replace("\x00", "").replace("\\\\u0000", "")
    return len(rows), data.encode("utf-8")


# Separates the values of one column in a packed column (`pack`): the ASCII unit separator,
# which no one types in a spreadsheet (and JSON escapes, so extras never hold it).
UNIT = "\x1f"


def pack(values: Sequence[str]) -> str | list[str]:
    """A column of text as one string, when no value holds the separator (else the list as
    it is). One string pickles and unpickles in a few memory copies, where a list of a
    batch's strings paid pickle a memo entry and an object per value: this was a quarter of
    the parsing child's CPU and a part of the importing process's."""
    text = UNIT.join(values)
    if text.count(UNIT) == len(values) - 1:
        return text
    return list(values)


def unpack(packed: str | list[str], count: int) -> list[str]:
    """The column `pack` made of `count` values."""
    if isinstance(packed, list):
        return packed
    return packed.split(UNIT) if count else []


class SqlitePayload(NamedTuple):
    """A batch for SQLite, in document order, packed (`pack`) to cross between processes
    cheaply: the writer unpacks it (`seen`, `merge`). `kinds` and `phones` use the empty
    string for NULL: a document type or a phone is never empty."""

    size: int
    lines: bytes  # array("q")
    documents: str | list[str]
    kinds: str | list[str]
    names: str | list[str]
    phones: str | list[str]
    extras: str | list[str]

    def line_numbers(self) -> list[int]:
        return array("q", self.lines).tolist()

    def seen(self) -> list[tuple[str, int]]:
        """import_seen's rows: (document, line)."""
        return list(zip(unpack(self.documents, self.size), self.line_numbers(), strict=True))

    def merge(self, campaign_id: int, stamp: Any) -> list[tuple[Any, ...]]:
        """The upsert's parameters; `stamp`: the time as SQLAlchemy writes it to SQLite."""
        size = self.size
        return list(
            zip(
                repeat(campaign_id),
                unpack(self.documents, size),
                [kind or None for kind in unpack(self.kinds, size)],
                unpack(self.names, size),
                [phone or None for phone in unpack(self.phones, size)],
                # extra: json.dumps's format, as SQLAlchemy writes it.
                unpack(self.extras, size),
                repeat(stamp),
                repeat(stamp),
            )
        )


_by_document = itemgetter(1, 0)  # CustomerRow: (document, line)


def encode_sqlite(rows: list[CustomerRow], campaign_id: int, stamp: Any) -> SqlitePayload:
    """The batch for SQLite's writer (the campaign and the time are its own parameters)."""
    # In document order (then line order, so a document's first row still comes first):
    # the customers indexes and import_seen are B-trees keyed by document, and sorted
    # keys touch each page once per batch instead of once per row, in a page cache far
    # smaller than the indexes of a million customers.
    rows = sorted(rows, key=_by_document)
    if not rows:
        return SqlitePayload(0, b"", "", "", "", "", "")
    lines, documents, kinds, names, phones, extras, _ = zip(*rows, strict=True)
    return SqlitePayload(
        len(rows),
        array("q", lines).tobytes(),
        pack(documents),
        pack([kind or "" for kind in kinds]),
        pack(names),
        pack([phone or "" for phone in phones]),
        pack(extras),
    )
