"""Reading customer files row by row: CSV (encoding and delimiter detected) and XLSX.

Nothing here holds more than a sample and one row: a file of any size streams through.
Encoding: a UTF-8 BOM means UTF-8; otherwise the first megabyte decides between UTF-8 and
Windows-1252 (what Excel writes for "CSV" on a Spanish Windows). A UTF-8 file whose later
lines carry a stray Windows-1252 byte (two exports pasted together) still reads: such bytes
are taken as Windows-1252 instead of failing the import at row 800,000.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast
from zipfile import BadZipFile

from centralita.customers.values import Cell

SAMPLE_BYTES = 1 << 20
SAMPLE_LINES = 50
DELIMITERS = (";", ",", "\t")
_DELIMITER_NAMES = {";": "';'", ",": "','", "\t": "tab"}
_FALLBACK = "centralita-cp1252-fallback"
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 (and other OLE files)


class UnusableFile(Exception):
    """The file cannot be imported at all; the message says why, for the administrator."""


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    # The 5 bytes Windows-1252 leaves undefined (0x81, 0x8D...) read as Latin-1 controls.
    text = "".join(
        bytes([byte]).decode("cp1252", errors="ignore") or chr(byte)
        for byte in error.object[error.start : error.end]
    )
    return text, error.end


codecs.register_error(_FALLBACK, _cp1252_fallback)


@dataclass
class Source:
    """An open customer file: its header and a stream of (line number, cells)."""

    path: Path
    kind: str  # "csv" or "xlsx"
    header: list[str]
    header_line: int
    rows: Iterator[tuple[int, Sequence[Cell]]]
    encoding: str | None = None  # CSV only, as shown to people
    delimiter: str | None = None  # CSV only
    # Progress: done/total in bytes (CSV) or rows (XLSX; total None when the file omits it).
    total: int | None = None
    _position: Any = field(default=None, repr=False)
    _closers: list[Any] = field(default_factory=list, repr=False)

    def progress(self) -> int:
        return int(self._position()) if self._position is not None else 0

    def describe(self) -> str:
        if self.kind == "xlsx":
            return "XLSX, first sheet"
        return f"CSV, {self.encoding}, delimiter {_DELIMITER_NAMES[self.delimiter or ',']}"

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_source(path: Path) -> Source:
    """Open a CSV or XLSX file and read its header; UnusableFile when that is not possible."""
    try:
        binary = path.open("rb")
    except OSError as exc:
        raise UnusableFile(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        magic = binary.read(4)
        binary.seek(0)
        if magic == _XLSX_MAGIC or path.suffix.lower() in {".xlsx", ".xlsm"}:
            binary.close()
            return _open_xlsx(path)
        if magic == _XLS_MAGIC or path.suffix.lower() == ".xls":
            raise UnusableFile(
                f"{path.name}: Excel 97-2003 (.xls) files are not read; "
                "save it as .xlsx or as CSV and import that"
            )
        return _open_csv(path, binary)
    except BaseException:
        binary.close()
        raise


# -- CSV ---------------------------------------------------------------------------------------


def _detect_encoding(sample: bytes) -> tuple[str, str]:
    """(codec, name to show) for the file whose first bytes are `sample`."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "UTF-8 with BOM"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnusableFile(
            "the file is UTF-16 (Excel's 'Unicode text'); save it as 'CSV UTF-8' instead"
        )
    try:
        # Incremental, so a character cut in two by the sample's end is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252", "Windows-1252"
    return "utf-8", "UTF-8"


def _detect_delimiter(lines: list[str]) -> str:
    """The candidate that splits the header into the most columns that the rows agree with."""
    best: tuple[int, int, str] | None = None
    for delimiter in DELIMITERS:
        rows: list[list[str]] = []
        reader = csv.reader(lines, delimiter=delimiter)
        # Judged on the rows before a broken one; reading the file will report the error.
        with contextlib.suppress(csv.Error):
            rows.extend(row for row in reader if row)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        agreeing = sum(1 for row in rows[1:] if len(row) == width)
        score = (agreeing, width, delimiter)
        if best is None or score[:2] > best[:2]:
            best = score
    return best[2] if best else ","


def _open_csv(path: Path, binary: IO[bytes]) -> Source:
    sample = binary.read(SAMPLE_BYTES)
    if not sample.strip():
        raise UnusableFile(f"{path.name} is empty: a header row is required")
    codec, encoding_name = _detect_encoding(sample)
    text = sample.decode(codec, errors=_FALLBACK)
    lines = text.splitlines()
    if len(sample) == SAMPLE_BYTES and len(lines) > 1:
        lines.pop()  # cut short by the sample's end
    sample_lines = [line for line in lines if line.strip()][:SAMPLE_LINES]
    delimiter = _detect_delimiter(sample_lines)

    binary.seek(0)
    stream = io.TextIOWrapper(binary, encoding=codec, errors=_FALLBACK, newline="")
    reader = csv.reader(stream, delimiter=delimiter, strict=False)
    header: list[str] | None = None
    header_line = 0
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                header, header_line = row, reader.line_num
                break
    except csv.Error as exc:
        raise UnusableFile(f"{path.name}, line {reader.line_num}: {exc}") from None
    if header is None:
        raise UnusableFile(f"{path.name} has no header row")
    return Source(
        path=path,
        kind="csv",
        header=header,
        header_line=header_line,
        rows=_csv_rows(path, reader),
        encoding=encoding_name,
        delimiter=delimiter,
        total=path.stat().st_size,
        _position=binary.tell,
        _closers=[stream.close],
    )


def _csv_rows(path: Path, reader: Any) -> Iterator[tuple[int, Sequence[Cell]]]:
    line = reader.line_num
    try:
        for row in reader:
            # A quoted value may span lines: a row is numbered by the line it starts on.
            start, line = line + 1, reader.line_num
            if row:
                yield start, row
    except csv.Error as exc:
        raise UnusableFile(f"{path.name}, line {line + 1}: {exc}") from None


# -- XLSX --------------------------------------------------------------------------------------


def _open_xlsx(path: Path) -> Source:
    # Imported here: openpyxl takes a while to import and only XLSX imports need it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # read_only streams the sheet; data_only gives formulas' cached values.
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        # A damaged or foreign zip fails in any of these inside openpyxl.
        raise UnusableFile(
            f"{path.name} is not a readable .xlsx file ({type(exc).__name__}: {exc})"
        ) from None
    if not book.worksheets:
        book.close()
        raise UnusableFile(f"{path.name} has no sheets")
    sheet = book.worksheets[0]
    first_row = sheet.min_row or 1
    rows = enumerate(sheet.iter_rows(values_only=True), start=first_row)
    header: list[str] | None = None
    header_line = 0
    for number, values in rows:
        if any(_filled(v) for v in values):
            header = ["" if v is None else str(v) for v in values]
            header_line = number
            break
    if header is None:
        book.close()
        raise UnusableFile(f"{path.name}: the first sheet has no header row")
    position = [header_line]

    def data() -> Iterator[tuple[int, Sequence[Cell]]]:
        for number, values in rows:
            position[0] = number
            if any(_filled(v) for v in values):
                # Rich text and formulas only come with options not used here.
                yield number, cast(Sequence[Cell], values)

    return Source(
        path=path,
        kind="xlsx",
        header=header,
        header_line=header_line,
        rows=data(),
        total=sheet.max_row,
        _position=lambda: position[0],
        _closers=[book.close],
    )


def _filled(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))
