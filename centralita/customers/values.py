"""Typing the cells of a customer file's extra columns, the way Latin American files write them.

`1.250.000` is an integer (dots group thousands), `1250000,50` and `1.250.000,50` are
decimals (the comma is the decimal separator), `15/03/2026` is a date (day first) stored as
`2026-03-15`, `si` / `no` are booleans. Whatever is not clearly one of those stays text,
exactly as written (trimmed): a code with leading zeros (`00123`) or a number too long to be an
amount (an account number) is text, so nothing is lost.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

# Cells as they come out of a file: CSV gives text, XLSX also numbers, dates and booleans.
Cell = str | int | float | Decimal | bool | datetime | date | time | timedelta | None

# Every number form in one regex (one match per cell instead of one per form); the groups
# say which form matched. Integers: up to 15 digits, beyond that JSON numbers lose precision in
# browsers (2^53), so longer ones (account numbers) stay text, as do leading zeros (codes).
_NUMBER = re.compile(
    r"(?P<integer>-?(?:0|[1-9][0-9]{0,14}))\Z"
    # 1.250.000 and 1.250.000,50: dots group thousands, an optional comma decimal part
    r"|(?P<dots>-?[1-9][0-9]{0,2}(?:\.[0-9]{3}){1,4})(?:,(?P<dots_decimals>[0-9]+))?\Z"
    # 1250000,50 and 0,5
    r"|(?P<comma_whole>-?(?:0|[1-9][0-9]{0,14})),(?P<comma_decimals>[0-9]+)\Z"
    # 1250000.50 and 1.5, from software that writes a decimal point
    r"|(?P<point>-?(?:0|[1-9][0-9]{0,14})\.[0-9]+)\Z"
    # 1,250,000 and 1,250.50: comma thousands, as US-configured software writes
    r"|(?P<commas>-?[1-9][0-9]{0,2}(?:,[0-9]{3}){2,4})\Z"
    r"|(?P<commas_whole>-?[1-9][0-9]{0,2}(?:,[0-9]{3}){1,4})\.(?P<commas_decimals>[0-9]+)\Z"
)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
# Day first with a four-digit year: 15/03/2026, 15-03-2026, 15.03.2026, 5/3/2026. Two-digit
# years stay text: 15/03/85 is a birthday in 1985 as often as a due date in 2085.
_DMY_DATE = re.compile(r"([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4})\Z")
_BOOLEANS = {
    "si": True,
    "sí": True,
    "true": True,
    "verdadero": True,
    "no": False,
    "false": False,
    "falso": False,
}
_NUMBER_START = frozenset("-0123456789$")


def typed(text: str) -> Any:
    """The JSON value for one cell of text: None, bool, int, float, an ISO date, or the text."""
    value = text.strip()
    if not value:
        return None
    first = value[0]
    if first in _NUMBER_START:
        if value.isdigit():  # the commonest case, settled without a regex
            return int(value) if len(value) <= 15 and (first != "0" or len(value) == 1) else value
        if "/" in value or value.count("-") == 2 or (value.count(".") == 2 and len(value) <= 10):
            day = _date(value)
            if day is not None:
                return day
        number = _number(value[1:].lstrip() if first == "$" else value)
        return value if number is None else number
    if len(value) <= 9:
        boolean = _BOOLEANS.get(value.lower())
        if boolean is not None:
            return boolean
    return value


def typed_cell(cell: Cell) -> Any:
    """`typed` for XLSX cells too: numbers stay numbers, dates become ISO text."""
    if isinstance(cell, str):
        return typed(cell)
    if cell is None or isinstance(cell, bool | int):
        return cell
    if isinstance(cell, float | Decimal):
        number = float(cell)
        return _whole(number) if number == number and abs(number) != float("inf") else None
    if isinstance(cell, datetime):
        if cell.time() == time(0):
            return cell.date().isoformat()
        return cell.isoformat()
    if isinstance(cell, date | time):
        return cell.isoformat()
    return str(cell)


def cell_text(cell: Cell) -> str:
    """A cell as text, for documents, names and phones (an XLSX number 1012345678.0 is
    `1012345678`, not `1012345678.0`)."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, float | Decimal) and cell == cell and float(cell).is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date | time):
        return str(typed_cell(cell))
    return str(cell)


def column_key(header: str) -> str:
    """The key a header gets in `extra` (`customer.<key>` in flows): lower case, no accents,
    words joined by `_`. `Saldo Total ($)` -> `saldo_total`, `Fecha de Pago` -> `fecha_de_pago`."""
    plain = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def _whole(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _number(value: str) -> int | float | None:
    match = _NUMBER.match(value)
    if match is None:
        return None
    integer, dots, dots_decimals, comma_whole, comma_decimals, point, commas, commas_whole, _ = (
        match.groups()
    )
    if integer is not None:
        return int(integer)
    if dots is not None:
        whole = dots.replace(".", "")
        return int(whole) if dots_decimals is None else _whole(float(f"{whole}.{dots_decimals}"))
    if comma_whole is not None:
        return _whole(float(f"{comma_whole}.{comma_decimals}"))
    if point is not None:
        return _whole(float(point))
    if commas is not None:
        return int(commas.replace(",", ""))
    return _whole(float(f"{commas_whole.replace(',', '')}.{match['commas_decimals']}"))


def _date(value: str) -> str | None:
    match = _ISO_DATE.match(value)
    if match:
        year, month, day = match.groups()
    else:
        match = _DMY_DATE.match(value)
        if match is None:
            return None
        day, _, month, year = match.groups()
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:  # 31/02/2026
        return None
