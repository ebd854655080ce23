"""From a customer file's rows to customers: header mapping, typing and validation.

Pure: it reads a `Source` and yields batches of valid rows, rejected rows (line and reason)
and warnings; it never touches the database. Duplicate documents across the file are found
by the importer in the database (a set of a million documents would be the largest thing in
memory), not here.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from centralita.bot.inputs import normalize_document
from centralita.customers.phones import E164Phones
from centralita.customers.sources import Source, UnusableFile
from centralita.customers.values import Cell, cell_text, column_key, typed, typed_cell

# The header names each field answers to (compared without case, accents or spacing).
ALIASES: dict[str, tuple[str, ...]] = {
    "document": ("document", "documento", "cedula", "doc"),
    "name": ("name", "nombre"),
    "phone": ("phone", "telefono", "celular"),
    "document_type": ("document_type", "tipo_documento"),
}
_FIELD_OF = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
# The same rule as the bot's `document` input type (centralita/bot/inputs.py): 3 to 20
# letters and digits, at least one digit, once separators are gone.
_DOCUMENT = re.compile(r"(?=[A-Z]*[0-9])[0-9A-Z]{3,20}\Z")
_SCIENTIFIC = re.compile(r"[0-9][.,]?[0-9]*E\+?[0-9]+\Z")
# Column sizes of the customers table.
MAX_NAME = 200
MAX_DOCUMENT_TYPE = 32
DEFAULT_BATCH_ROWS = 10_000


class CustomerRow(NamedTuple):
    line: int
    document: str  # normalised
    document_type: str | None
    name: str
    phone: str | None  # E.164
    # The other columns as a JSON object, exactly as json.dumps writes it (and so SQLAlchemy's
    # JSON type on SQLite): built from cached pieces, since most columns repeat few values.
    extra_json: str
    cells: Sequence[Cell]  # as read, for the rejected-rows file should this row be a duplicate

    @property
    def extra(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.extra_json)
        return value


class Rejected(NamedTuple):
    line: int
    reason: str
    cells: Sequence[Cell]


class RowWarning(NamedTuple):
    line: int
    message: str


@dataclass
class ParsedBatch:
    rows: list[CustomerRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    read: int = 0  # data rows read (blank rows not counted)
    position: int = 0  # the source's progress after this batch


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds what. Indexes into a row's cells."""

    document: int
    name: int | None
    phone: int | None
    document_type: int | None
    extras: tuple[tuple[int, str], ...]  # (index, key in `extra`)
    headers: tuple[str, ...]
    ignored: tuple[int, ...] = ()  # columns without a header, their values dropped

    @property
    def width(self) -> int:
        return len(self.headers)


def header_name(text: str) -> str:
    """`Cédula`, ` TIPO DOCUMENTO ` and `tipo-documento` all read as one name."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[\s_\-.]+", "_", plain.strip().lower()).strip("_")


def map_columns(header: Sequence[str]) -> ColumnMap:
    """The columns of a header row; UnusableFile when there is no document column, or two
    columns would land in one place."""
    fields: dict[str, int] = {}
    extras: list[tuple[int, str]] = []
    ignored: list[int] = []
    owner: dict[str, int] = {}  # key or field -> column index, to name clashes
    headers = tuple(str(h).strip() for h in header)
    for index, title in enumerate(headers):
        if not title:
            ignored.append(index)
            continue
        field_name = _FIELD_OF.get(header_name(title))
        key = field_name or column_key(title) or f"column_{index + 1}"
        if key in owner:
            first = owner[key]
            raise UnusableFile(
                f"columns {first + 1} ({headers[first]!r}) and {index + 1} ({title!r}) "
                f"both mean {key!r}: remove or rename one"
            )
        owner[key] = index
        if field_name:
            fields[field_name] = index
        else:
            extras.append((index, key))
    if "document" not in fields:
        accepted = ", ".join(ALIASES["document"])
        raise UnusableFile(
            f"no document column: the header needs one named {accepted} "
            f"(found: {', '.join(h for h in headers if h) or 'nothing'})"
        )
    return ColumnMap(
        document=fields["document"],
        name=fields.get("name"),
        phone=fields.get("phone"),
        document_type=fields.get("document_type"),
        extras=tuple(extras),
        headers=headers,
        ignored=tuple(ignored),
    )


def document_problem(text: str) -> str:
    """Why `text` is not a document number, for the rejected-rows report."""
    if not text.strip():
        return "no document"
    if _SCIENTIFIC.match(text.strip().upper()):
        return (
            f"document {text.strip()!r} is in scientific notation (Excel shortened it): "
            "format the column as text and export again"
        )
    return (
        f"document {text.strip()!r} is not a document number "
        "(3 to 20 letters and digits, at least one digit)"
    )


class _ExtraEncoder:
    """One extra column's cells to `"key": value` pieces of JSON. Most columns repeat a few
    values (cities, products, dates, days overdue), so pieces are cached per column: typing a
    cell and encoding it cost some microseconds, a dictionary lookup a fraction of one."""

    CACHED = 4096  # values per column; past that, new values are typed every time

    def __init__(self, key: str, text_cells: bool) -> None:
        self.prefix = json.dumps(key) + ": "
        # XLSX cells are not cached: True, 1 and 1.0 are equal keys but different values.
        self.cache: dict[Cell, str] | None = {} if text_cells else None
        self.convert = typed if text_cells else typed_cell

    def __call__(self, cell: Cell) -> str:
        cache = self.cache
        if cache is not None:
            piece = cache.get(cell)
            if piece is None:
                piece = self.prefix + json.dumps(self.convert(cell))  # type: ignore[arg-type]
                if len(cache) < self.CACHED:
                    cache[cell] = piece
            return piece
        return self.prefix + json.dumps(typed_cell(cell))


class CustomerParser:
    """Reads a source's rows into batches of customers, rejects and warnings."""

    def __init__(self, source: Source, phones: E164Phones) -> None:
        self.source = source
        self.columns = map_columns(source.header)
        self.phones = phones

    def batches(self, size: int = DEFAULT_BATCH_ROWS) -> Iterator[ParsedBatch]:
        batch = ParsedBatch()
        # The loop runs once per row of files with millions: what it uses is bound to locals.
        columns, csv = self.columns, self.source.kind == "csv"
        width, document_at, name_at = columns.width, columns.document, columns.name
        phone_at, kind_at, extras = columns.phone, columns.document_type, columns.extras
        text_of = str if csv else cell_text
        encoders = [(index, _ExtraEncoder(key, csv)) for index, key in extras]
        phones, valid_document = self.phones, _DOCUMENT.match
        for line, cells in self.source.rows:
            if len(cells) != width:
                if len(cells) < width:
                    cells = [*cells, *([""] * (width - len(cells)))]
                elif any(_filled(cell) for cell in cells[width:]):
                    batch.read += 1
                    filled = width + max(i for i, c in enumerate(cells[width:], 1) if _filled(c))
                    reason = f"{filled} values for the header's {width} columns"
                    batch.rejected.append(Rejected(line, reason, cells))
                    continue
            document_text = text_of(cells[document_at])
            if document_text.isdigit() and document_text.isascii():  # the common case, quickly
                document = document_text
                valid = 3 <= len(document) <= 20
            else:
                document = normalize_document(document_text)
                valid = valid_document(document) is not None
            if not valid:
                if document or any(_filled(cell) for cell in cells):
                    batch.read += 1
                    batch.rejected.append(Rejected(line, document_problem(document_text), cells))
                # else: a blank row (";;;" or an empty sheet row), not data
            else:
                batch.read += 1
                name = "" if name_at is None else text_of(cells[name_at]).strip()
                document_type = None if kind_at is None else text_of(cells[kind_at]).strip()
                if len(name) > MAX_NAME or (
                    document_type and len(document_type) > MAX_DOCUMENT_TYPE
                ):
                    name, document_type = self._cut(line, name, document_type, batch)
                phone = None
                if phone_at is not None:
                    phone_text = text_of(cells[phone_at]).strip()
                    if phone_text:
                        phone = phones(phone_text)
                        if phone is None:
                            batch.warnings.append(self._bad_phone(line, phone_text))
                batch.rows.append(
                    CustomerRow(
                        line,
                        document,
                        document_type.upper() if document_type else None,
                        name,
                        phone,
                        "{" + ", ".join([encode(cells[index]) for index, encode in encoders]) + "}",
                        cells,
                    )
                )
            if batch.read >= size:
                batch.position = self.source.progress()
                yield batch
                batch = ParsedBatch()
        batch.position = self.source.progress()
        if batch.read:
            yield batch

    def _cut(
        self, line: int, name: str, document_type: str | None, batch: ParsedBatch
    ) -> tuple[str, str | None]:
        if len(name) > MAX_NAME:
            batch.warnings.append(
                RowWarning(line, f"name longer than {MAX_NAME} characters: cut short")
            )
            name = name[:MAX_NAME]
        if document_type and len(document_type) > MAX_DOCUMENT_TYPE:
            batch.warnings.append(
                RowWarning(
                    line, f"document type longer than {MAX_DOCUMENT_TYPE} characters: cut short"
                )
            )
            document_type = document_type[:MAX_DOCUMENT_TYPE]
        return name, document_type

    def _bad_phone(self, line: int, text: str) -> RowWarning:
        return RowWarning(
            line,
            f"phone {text!r} is not a valid number (default region {self.phones.region}): "
            "imported without a phone",
        )


def _filled(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))
