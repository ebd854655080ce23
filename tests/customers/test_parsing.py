"""Reading customer files: detection, header mapping, typing, rejects and warnings (no database)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from centralita.customers.parsing import CustomerParser, ParsedBatch, Rejected, map_columns
from centralita.customers.phones import E164Phones
from centralita.customers.sources import UnusableFile, open_source

from .conftest import WriteFile

NOT_A_DOCUMENT = "is not a document number (3 to 20 letters and digits, at least one digit)"
ROWS = "1.012.345.678{d}Ana Pérez{d}300 123 4567{d}1.250.000{d}15/03/2026{d}Bogotá\n"


def parse(path: Path, batch_rows: int = 10_000) -> tuple[list[ParsedBatch], str]:
    with open_source(path) as source:
        batches = list(CustomerParser(source, E164Phones("CO")).batches(batch_rows))
        return batches, source.describe()


def everything(path: Path) -> ParsedBatch:
    batches, _ = parse(path)
    merged = ParsedBatch()
    for batch in batches:
        merged.rows += batch.rows
        merged.rejected += batch.rejected
        merged.warnings += batch.warnings
        merged.read += batch.read
    return merged


@pytest.mark.parametrize(
    ("delimiter", "shown"),
    [(";", "';'"), (",", "','"), ("\t", "tab")],
    ids=["semicolon", "comma", "tab"],
)
@pytest.mark.parametrize(
    ("encoding", "named"),
    [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("cp1252", "Windows-1252")],
)
def test_delimiters_and_encodings_are_detected(
    write_file: WriteFile, delimiter: str, shown: str, encoding: str, named: str
) -> None:
    header = delimiter.join(["Cédula", "Nombre", "Teléfono", "Saldo", "Fecha Límite", "Ciudad"])
    path = write_file(header + "\n" + ROWS.format(d=delimiter), encoding=encoding)
    batches, described = parse(path)
    assert described == f"CSV, {named}, delimiter {shown}"
    [row] = batches[0].rows
    assert (row.line, row.document, row.name, row.phone) == (
        2,
        "1012345678",
        "Ana Pérez",
        "+573001234567",
    )
    assert row.extra == {"saldo": 1250000, "fecha_limite": "2026-03-15", "ciudad": "Bogotá"}


def test_comma_decimals_do_not_fool_the_delimiter_detection(write_file: WriteFile) -> None:
    path = write_file("doc;saldo;tasa\n12345;1250000,50;1,5\n67890;2,25;0,9\n")
    batches, described = parse(path)
    assert described.endswith("delimiter ';'")
    assert [r.extra for r in batches[0].rows] == [
        {"saldo": 1250000.5, "tasa": 1.5},
        {"saldo": 2.25, "tasa": 0.9},
    ]


def test_a_stray_windows_1252_byte_late_in_a_utf8_file_is_read(
    write_file: WriteFile, tmp_path: Path
) -> None:
    lines = ["documento,nombre"] + [f"{10000 + i},Cliente {i}" for i in range(60_000)]
    path = tmp_path / "mixed.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + "99999,Muñoz\n".encode("cp1252"))
    result = everything(path)
    assert result.rows[-1].name == "Muñoz"
    assert result.rows[0].name == "Cliente 0"


@pytest.mark.parametrize(
    "headers",
    [
        ["document", "name", "phone", "document_type"],
        ["documento", "nombre", "telefono", "tipo_documento"],
        ["Cédula", "NOMBRE", "Teléfono", "Tipo Documento"],
        ["DOC", " Nombre ", "celular", "tipo-documento"],
        ["cedula", "Name", "CELULAR", "TIPO_DOCUMENTO"],
    ],
)
def test_every_alias(write_file: WriteFile, headers: list[str]) -> None:
    path = write_file(";".join([*headers, "Otra Cosa"]) + "\n123456;Ana;3001234567;cc;x\n")
    [row] = everything(path).rows
    assert (row.document, row.name, row.phone, row.document_type) == (
        "123456",
        "Ana",
        "+573001234567",
        "CC",
    )
    assert row.extra == {"otra_cosa": "x"}


def test_only_the_document_is_required(write_file: WriteFile) -> None:
    [row] = everything(write_file("documento\n 1.012.345-678 \n")).rows
    assert (row.document, row.name, row.phone, row.document_type, row.extra) == (
        "1012345678",
        "",
        None,
        None,
        {},
    )


def test_extras_are_typed_and_empty_cells_are_null(write_file: WriteFile) -> None:
    text = (
        "doc;saldo;cuota;vence;al_dia;codigo;nota;mora\n"
        "12345;1.250.000;1250000,50;15/03/2026;si;00123;;12\n"
    )
    [row] = everything(write_file(text)).rows
    assert row.extra == {
        "saldo": 1250000,
        "cuota": 1250000.5,
        "vence": "2026-03-15",
        "al_dia": True,
        "codigo": "00123",
        "nota": None,
        "mora": 12,
    }


def test_rejected_rows_have_their_line_and_reason(write_file: WriteFile) -> None:
    text = (
        "documento;nombre;saldo\n"  # line 1
        "12345;Ana;1\n"  # 2: fine
        ";Sin documento;2\n"  # 3
        "\n"  # 4: blank, skipped
        ";;\n"  # 5: empty cells only, skipped
        "N/A;Bo;3\n"  # 6
        "1,01235E+09;Excel;4\n"  # 7
        '"67890";"Varias\nlíneas";5\n'  # 8-9: one row over two lines
        "11111;Carlos;6;sobra\n"  # 10: a value beyond the header
        "22222;Dora;7;;\n"  # 11: empty trailing cells are fine
        "12;Corto;8\n"  # 12: too short for a document
    )
    result = everything(write_file(text))
    assert [(r.line, r.document) for r in result.rows] == [
        (2, "12345"),
        (8, "67890"),
        (11, "22222"),
    ]
    assert result.rows[1].name == "Varias\nlíneas"
    assert [(r.line, r.reason) for r in result.rejected] == [
        (3, "no document"),
        (
            6,
            f"document 'N/A' {NOT_A_DOCUMENT}",
        ),
        (
            7,
            "document '1,01235E+09' is in scientific notation (Excel shortened it): "
            "format the column as text and export again",
        ),
        (10, "4 values for the header's 3 columns"),
        (
            12,
            f"document '12' {NOT_A_DOCUMENT}",
        ),
    ]
    assert result.read == 8
    assert isinstance(result.rejected[0], Rejected)
    assert list(result.rejected[0].cells) == ["", "Sin documento", "2"]


def test_phones_are_normalised_and_bad_ones_are_warnings(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "doc,celular\n11111,+57 300 123 4567\n22222,573001234567\n33333,123\n44444,\n"
    result = everything(write_file(text))
    assert [r.phone for r in result.rows] == ["+573001234567", "+573001234567", None, None]
    assert [(w.line, w.message) for w in result.warnings] == [
        (4, "phone '123' is not a valid number (default region CO): imported without a phone")
    ]


def test_another_default_region(write_file: WriteFile) -> None:
    path = write_file("doc,telefono\n11111,55 1234 5678\n")
    with open_source(path) as source:
        [batch] = CustomerParser(source, E164Phones("MX")).batches()
    assert batch.rows[0].phone == "+525512345678"


def test_long_names_are_cut_with_a_warning(write_file: WriteFile) -> None:
    result = everything(write_file(f"doc;nombre;tipo_documento\n11111;{'A' * 250};{'X' * 40}\n"))
    assert len(result.rows[0].name) == 200
    assert len(result.rows[0].document_type or "") == 32
    assert [w.line for w in result.warnings] == [2, 2]


def test_batches_and_progress(write_file: WriteFile) -> None:
    path = write_file("doc\n" + "".join(f"{10000 + i}\n" for i in range(25)))
    batches, _ = parse(path, batch_rows=10)
    assert [b.read for b in batches] == [10, 10, 5]
    assert batches[-1].position == path.stat().st_size


def test_xlsx(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Cédula", "Nombre", "Celular", "Saldo", "Vence", "Al día", "Nota"])
    sheet.append([1012345678, "Ana", 3001234567, 1250000.5, datetime(2026, 3, 15), True, None])
    sheet.append(["N/A", "Bo", None, "1.250.000", "15/03/2026", "no", "x"])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["55.555", "Carla", "+57 300 123 4567", 7, None, None, "y"])
    path = tmp_path / "clientes.xlsx"
    book.save(path)
    batches, described = parse(path)
    assert described == "XLSX, first sheet"
    [batch] = batches
    assert [(r.line, r.document, r.name, r.phone) for r in batch.rows] == [
        (2, "1012345678", "Ana", "+573001234567"),
        (5, "55555", "Carla", "+573001234567"),
    ]
    assert batch.rows[0].extra == {
        "saldo": 1250000.5,
        "vence": "2026-03-15",
        "al_dia": True,
        "nota": None,
    }
    assert [(r.line, r.reason.split(" is ")[0]) for r in batch.rejected] == [(3, "document 'N/A'")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: a header row is required"),
        (b"\n\n  \n", "is empty: a header row is required"),
        (
            b"nombre;telefono\nAna;300\n",
            "no document column: the header needs one named document, documento, cedula, doc "
            "(found: nombre, telefono)",
        ),
        (b"doc;Documento\n1;2\n", "columns 1 ('doc') and 2 ('Documento') both mean 'document'"),
        (b"doc;Saldo;saldo\n1;2;3\n", "columns 2 ('Saldo') and 3 ('saldo') both mean 'saldo'"),
        (b"\xff\xfed\x00o\x00c\x00", "UTF-16"),
        (b"\xd0\xcf\x11\xe0rest", "Excel 97-2003 (.xls) files are not read"),
        (b"PK\x03\x04not really a zip", "is not a readable .xlsx file"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "clientes.csv"
    path.write_bytes(content)
    with pytest.raises(UnusableFile) as error, open_source(path) as source:
        CustomerParser(source, E164Phones("CO"))
    assert message in str(error.value)


def test_a_missing_file_is_unusable(tmp_path: Path) -> None:
    with pytest.raises(UnusableFile, match=r"cannot read .*nope\.csv: No such file"):
        open_source(tmp_path / "nope.csv")


def test_columns_without_a_header_are_ignored() -> None:
    columns = map_columns(["doc", "", "Saldo", "#"])
    assert columns.ignored == (1,)
    assert columns.extras == ((2, "saldo"), (3, "column_4"))


def test_warnings_come_in_line_order_and_long_values_are_cut(write_file: WriteFile) -> None:
    long_name, long_kind = "N" * 205, "T" * 40
    path = write_file(
        "doc;nombre;celular;tipo_documento\n"
        "11111;Ana;123;CC\n"  # 2: bad phone
        f"22222;{long_name};12;{long_kind}\n"  # 3: all three
        "33333;Bo;3001234567;cc\n"  # 4: nothing to say
        f"44444;{long_name};;\n"  # 5: long name only
    )
    batch = everything(path)
    assert [(w.line, w.message.split(" ")[0]) for w in batch.warnings] == [
        (2, "phone"),
        (3, "name"),
        (3, "document"),
        (3, "phone"),
        (5, "name"),
    ]
    rows = {row.line: row for row in batch.rows}
    assert rows[3].name == "N" * 200 and rows[3].document_type == "T" * 32
    assert (rows[4].document_type, rows[5].document_type) == ("CC", None)
    assert (rows[2].phone, rows[4].phone) == (None, "+573001234567")
