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
from functools import partial
from json.encoder import encode_basestring_ascii as _encode_string
from operator import itemgetter
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
    cell and encoding it cost some microseconds, a dictionary lookup a fraction of one. The
    row loop looks CSV cells up in `cache` itself (one C-level `map` over a row's columns) and
    calls the encoder only for a value not cached."""

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
                piece = self.prefix + json_value(self.convert(cell))  # type: ignore[arg-type]
                if len(cache) < self.CACHED:
                    cache[cell] = piece
            return piece
        return self.prefix + json_value(typed_cell(cell))


_float_repr = float.__repr__


def json_value(value: Any) -> str:
    """`json.dumps(value)` for what `typed` returns, without json.dumps's per-call set-up (an
    amount column is a new value in nearly every row). The same text: JSON writes integers with
    int's repr and finite floats with float's repr, and strings escaped to ASCII."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0.0:  # finite (inf - inf and nan are nan)
        return _float_repr(value)
    return json.dumps(value)


class CustomerParser:
    """Reads a source's rows into batches of customers, rejects and warnings."""

    def __init__(self, source: Source, phones: E164Phones) -> None:
        self.source = source
        self.columns = map_columns(source.header)
        self.phones = phones
        self.encoders = [
            (index, _ExtraEncoder(key, source.kind == "csv")) for index, key in self.columns.extras
        ]

    def batches(self, size: int = DEFAULT_BATCH_ROWS) -> Iterator[ParsedBatch]:
        batch = ParsedBatch()
        # The loop runs once per row of files with millions: what it uses is bound to locals.
        # It only sorts rows into rejected and valid (by their document); the valid rows'
        # other columns are read a batch at a time, column by column (`_customers`).
        columns, text_of = self.columns, str if self.source.kind == "csv" else cell_text
        width, document_at, valid_document = columns.width, columns.document, _DOCUMENT.match
        lines: list[int] = []
        documents: list[str] = []
        kept: list[Sequence[Cell]] = []
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
            # The common cases, quickly: `1012345678` and `1.012.345.678`.
            document = document_text.replace(".", "") if "." in document_text else document_text
            if document.isdigit() and document.isascii():
                valid = 3 <= len(document) <= 20
            else:
                document = normalize_document(document_text)
                valid = valid_document(document) is not None
            if valid:
                batch.read += 1
                lines.append(line)
                documents.append(document)
                kept.append(cells)
            elif document or any(_filled(cell) for cell in cells):
                batch.read += 1
                batch.rejected.append(Rejected(line, document_problem(document_text), cells))
            # else: a blank row (";;;" or an empty sheet row), not data
            if batch.read >= size:
                self._customers(batch, lines, documents, kept)
                batch.position = self.source.progress()
                # Let go of this batch's lists before the caller gets it: it may keep the
                # batch (or what it encodes of it) while the next one is read.
                lines, documents, kept = [], [], []
                yield batch
                batch = ParsedBatch()
        self._customers(batch, lines, documents, kept)
        batch.position = self.source.progress()
        if batch.read:
            yield batch

    def _customers(
        self,
        batch: ParsedBatch,
        lines: list[int],
        documents: list[str],
        kept: list[Sequence[Cell]],
    ) -> None:
        """The batch's valid rows (`kept`, with their lines and documents), column by column:
        `map` and list comprehensions over a column run in C or close to it, where a Python
        loop over rows paid the interpreter for every cell (this was most of an import's
        client CPU). Warnings are put back in line order at the end."""
        count, columns = len(kept), self.columns
        if not count:
            return
        if self.source.kind == "csv":

            def texts(index: int) -> list[str]:
                return list(map(itemgetter(index), kept))

        else:

            def texts(index: int) -> list[str]:
                return list(map(cell_text, map(itemgetter(index), kept)))

        names = [""] * count if columns.name is None else list(map(str.strip, texts(columns.name)))
        kinds: list[str] | None = None
        if columns.document_type is not None:
            kinds = list(map(str.strip, texts(columns.document_type)))
        if max(map(len, names)) > MAX_NAME or (kinds and max(map(len, kinds)) > MAX_DOCUMENT_TYPE):
            self._cut(batch, lines, names, kinds)
        document_types = [None] * count if kinds is None else [k.upper() or None for k in kinds]
        phones: list[str | None] = [None] * count
        if columns.phone is not None:
            phone_texts = list(map(str.strip, texts(columns.phone)))
            to_e164 = self.phones
            phones = [to_e164(text) if text else None for text in phone_texts]
            if phones.count(None) > phone_texts.count(""):  # some phone was not valid
                batch.warnings += [
                    self._bad_phone(line, text)
                    for line, text, phone in zip(lines, phone_texts, phones, strict=True)
                    if text and phone is None
                ]
        extras = self._extras(kept)
        batch.rows = list(
            map(
                partial(tuple.__new__, CustomerRow),
                zip(lines, documents, document_types, names, phones, extras, kept, strict=True),
            )
        )
        batch.warnings.sort(key=_line_of)  # stable: a line's own warnings keep their order

    def _extras(self, kept: list[Sequence[Cell]]) -> list[str]:
        """Each row's extra columns as one JSON object, built from one column's pieces at a
        time: CSV cells are looked up in their column's cache by `map` (C code), and only
        the values not cached go through the column's encoder."""
        if not self.encoders:
            return ["{}"] * len(kept)
        pieces: list[list[str]] = []
        for index, encode in self.encoders:
            cells = list(map(itemgetter(index), kept))
            if encode.cache is None:  # XLSX
                pieces.append(list(map(encode, cells)))
                continue
            found: list[str | None] = list(map(encode.cache.get, cells))
            if None in found:
                found = [
                    piece if piece is not None else encode(cell)
                    for piece, cell in zip(found, cells, strict=True)
                ]
            pieces.append(found)  # type: ignore[arg-type]  # no None left
        template = "{" + ", ".join(["%s"] * len(pieces)) + "}"
        return list(map(template.__mod__, zip(*pieces, strict=True)))

    @staticmethod
    def _cut(
        batch: ParsedBatch, lines: list[int], names: list[str], kinds: list[str] | None
    ) -> None:
        """Names and document types longer than their columns, cut short (in place), with a
        warning each."""
        for at, line in enumerate(lines):
            if len(names[at]) > MAX_NAME:
                batch.warnings.append(
                    RowWarning(line, f"name longer than {MAX_NAME} characters: cut short")
                )
                names[at] = names[at][:MAX_NAME]
            if kinds and len(kinds[at]) > MAX_DOCUMENT_TYPE:
                batch.warnings.append(
                    RowWarning(
                        line,
                        f"document type longer than {MAX_DOCUMENT_TYPE} characters: cut short",
                    )
                )
                kinds[at] = kinds[at][:MAX_DOCUMENT_TYPE]

    def _bad_phone(self, line: int, text: str) -> RowWarning:
        return RowWarning(
            line,
            f"phone {text!r} is not a valid number (default region {self.phones.region}): "
            "imported without a phone",
        )


_line_of = itemgetter(0)  # RowWarning -> line


def _filled(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))
