"""A batch of parsed customers as each database's writer wants it: COPY text for PostgreSQL,
parameter tuples for SQLite.

Kept apart from `importer.py` (SQLAlchemy, psycopg, the models) so that the process that
parses a file in parallel (`parallel.py`) imports only what parsing needs: its memory counts
against the import's budget. Both are built column by column (`zip`, `map` and `%`
formatting run in C) rather than row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

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


@dataclass
class SqlitePayload:
    seen: list[tuple[str, int]]
    merge: list[tuple[Any, ...]]


_by_document = itemgetter(1, 0)  # CustomerRow: (document, line)


def encode_sqlite(rows: list[CustomerRow], campaign_id: int, stamp: Any) -> SqlitePayload:
    """import_seen's rows and the upsert's parameters; `stamp`: the time as SQLAlchemy
    writes it to SQLite (the writer's `stamp`)."""
    # In document order (then line order, so a document's first row still comes first):
    # the customers indexes and import_seen are B-trees keyed by document, and sorted
    # keys touch each page once per batch instead of once per row, in a page cache far
    # smaller than the indexes of a million customers.
    rows = sorted(rows, key=_by_document)
    if not rows:
        return SqlitePayload(seen=[], merge=[])
    lines, documents, kinds, names, phones, extras, _ = zip(*rows, strict=True)
    return SqlitePayload(
        seen=list(zip(documents, lines, strict=True)),
        # extra: json.dumps's format, as SQLAlchemy writes it.
        merge=list(
            zip(
                repeat(campaign_id),
                documents,
                kinds,
                names,
                phones,
                extras,
                repeat(stamp),
                repeat(stamp),
            )
        ),
    )
