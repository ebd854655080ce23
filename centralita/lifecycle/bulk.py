"""Many rows in one INSERT whose statement text does not grow with the rows.

The sweep inserts its closing messages and alerts in batches of hundreds. A multi-row
INSERT ... VALUES carries a parameter per column and row, and on PostgreSQL psycopg parses
such a long statement afresh every time (it caches only short ones): most of a batch's time
went there. The rows therefore travel as one JSON parameter, unpacked by
`jsonb_to_recordset` into the table's column types on PostgreSQL, and by `json_each` on
SQLite, where SQLAlchemy's multi-row insert spent ≈ 5 ms of CPU per 1,000 rows binding every
value of every row. A column with the same value in every row (a batch's time, its
campaign's closing text, a status) is one typed parameter instead of a JSON value per row:
the JSON carries only what differs (often just an id), which spares encoding it in Python
and decoding it in the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, text
from sqlalchemy.orm import Session


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    returning: Sequence[str],
    *,
    skip_conflicts_on: str | None = None,
) -> list[Row[Any]]:
    """Insert `rows` (every row with the same keys; columns left out take their scalar
    Python defaults) and return the `returning` columns of the rows inserted. With
    `skip_conflicts_on` (a unique column), rows whose value exists are skipped."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    first = rows[0]
    unknown = [c for c in first if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    # The JSON carries the columns whose value differs between rows (at least one, for the
    # row count); the others, defaults included, are one parameter each.
    keys = list(first)
    varying = [c for c in keys if [row[c] for row in rows].count(first[c]) < len(rows)]
    varying = varying or keys[:1]
    constants = {c: first[c] for c in keys if c not in varying}
    constants |= _scalar_defaults(table, first.keys())
    # Identifiers come from the table's own columns, never from data, and are quoted.
    quote = dialect.identifier_preparer.quote
    if dialect.name == "postgresql":

        def sql_type(column: str) -> str:
            return str(table.c[column].type.compile(dialect=dialect))

        types = ", ".join(f"{quote(c)} {sql_type(c)}" for c in varying)
        source = f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({types})"
        picked = [f"r.{quote(c)}" for c in varying]
        given = [f"CAST(:c{n} AS {sql_type(c)})" for n, c in enumerate(constants)]
        payload = json.dumps([{c: row[c] for c in varying} for row in rows], default=_json_value)
    else:
        # SQLite: the values go in as the column types would bind them (a datetime as its
        # stored text, a JSON value as its text), picked out of the array by json_each.
        source = "json_each(:rows) AS r WHERE true"  # WHERE: or ON CONFLICT parses as a join
        picked = [f"json_extract(r.value, '$[{n}]')" for n in range(len(varying))]
        given = [f":c{n}" for n in range(len(constants))]
        binds = [
            (c, table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in varying
        ]
        payload = json.dumps(
            [[row[c] if bind is None else bind(row[c]) for c, bind in binds] for row in rows]
        )
    names = ", ".join(quote(c) for c in [*varying, *constants])
    conflict = f" ON CONFLICT ({quote(skip_conflicts_on)}) DO NOTHING" if skip_conflicts_on else ""
    statement = text(
        f"INSERT INTO {quote(table.name)} ({names}) SELECT {', '.join([*picked, *given])}"
        f" FROM {source}{conflict} RETURNING {', '.join(quote(c) for c in returning)}"
    ).bindparams(
        *(
            bindparam(f"c{n}", value, type_=table.c[c].type)
            for n, (c, value) in enumerate(constants.items())
        )
    )
    return list(session.execute(statement, {"rows": payload}).all())


def _scalar_defaults(table: Table, given: Any) -> dict[str, Any]:
    """The Python-side scalar defaults of the columns not given (the ORM would apply them)."""
    found = {}
    for column in table.c:
        if column.name in given or column.default is None or column.primary_key:
            continue
        default: Any = column.default
        if not default.is_scalar:
            raise ValueError(f"{table.name}.{column.name} must be given (computed default)")
        found[column.name] = default.arg
    return found


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one")
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a bulk insert")
