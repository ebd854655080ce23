"""Typing the extra columns' cells, and header names."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from centralita.customers.parsing import header_name
from centralita.customers.values import cell_text, column_key, typed, typed_cell


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # empty -> null
        ("", None),
        ("   ", None),
        # integers, and what stays text although made of digits
        ("0", 0),
        ("123", 123),
        ("-5", -5),
        (" 42 ", 42),
        ("00123", "00123"),  # a code: the leading zeros matter
        ("1234567890123456", "1234567890123456"),  # an account number, not an amount
        # Latin American amounts: dots group thousands, the comma is the decimal separator
        ("1.250.000", 1250000),
        ("1.250", 1250),
        ("1.250.000,50", 1250000.5),
        ("1.250.000,00", 1250000),
        ("1250000,50", 1250000.5),
        ("0,5", 0.5),
        ("1,250", 1.25),
        ("-1.250.000", -1250000),
        ("$ 1.250.000", 1250000),
        ("$1250", 1250),
        # software that writes a decimal point, or comma thousands
        ("1250000.50", 1250000.5),
        ("1.5", 1.5),
        ("1,250,000", 1250000),
        ("1,250.50", 1250.5),
        # dates: ISO, or day first with a four-digit year, stored as ISO
        ("2026-03-15", "2026-03-15"),
        ("15/03/2026", "2026-03-15"),
        ("5/3/2026", "2026-03-05"),
        ("15-03-2026", "2026-03-15"),
        ("15.03.2026", "2026-03-15"),
        ("31/02/2026", "31/02/2026"),  # no such day: text
        ("15/03/85", "15/03/85"),  # two-digit year: text, not a guess
        ("15/03-2026", "15/03-2026"),
        # booleans
        ("si", True),
        ("Sí", True),
        ("SI", True),
        ("true", True),
        ("VERDADERO", True),
        ("no", False),
        ("No", False),
        ("false", False),
        ("FALSO", False),
        # text
        ("Bogotá", "Bogotá"),
        ("  Tarjeta de crédito ", "Tarjeta de crédito"),
        ("1.2.3", "1.2.3"),
        ("300-123-4567", "300-123-4567"),
        ("-", "-"),
        ("$", "$"),
        ("12abc", "12abc"),
    ],
)
def test_typed(text: str, value: Any) -> None:
    result = typed(text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        (None, None),
        (True, True),
        (1250000, 1250000),
        (1250000.0, 1250000),
        (1250000.5, 1250000.5),
        (Decimal("2.50"), 2.5),
        (float("nan"), None),
        (datetime(2026, 3, 15), "2026-03-15"),
        (datetime(2026, 3, 15, 10, 30), "2026-03-15T10:30:00"),
        (date(2026, 3, 15), "2026-03-15"),
        (time(10, 30), "10:30:00"),
        ("1.250.000", 1250000),
    ],
)
def test_typed_cell_for_xlsx(cell: Any, value: Any) -> None:
    result = typed_cell(cell)
    assert result == value
    assert type(result) is type(value)


def test_cell_text_writes_whole_numbers_without_decimals() -> None:
    assert cell_text(1012345678.0) == "1012345678"
    assert cell_text(3001234567) == "3001234567"
    assert cell_text(None) == ""
    assert cell_text(12.5) == "12.5"
    assert cell_text(datetime(2026, 3, 15)) == "2026-03-15"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Saldo", "saldo"),
        ("Saldo Total ($)", "saldo_total"),
        ("Fecha Límite", "fecha_limite"),
        ("  Días-Mora ", "dias_mora"),
        ("AÑO", "ano"),
        ("#", ""),
    ],
)
def test_column_key(header: str, key: str) -> None:
    assert column_key(header) == key


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Cédula", "cedula"),
        ("CEDULA", "cedula"),
        (" Tipo Documento ", "tipo_documento"),
        ("tipo-documento", "tipo_documento"),
        ("Tipo_de_documento", "tipo_de_documento"),
        ("Teléfono", "telefono"),
        ("document type", "document_type"),
    ],
)
def test_header_name(header: str, name: str) -> None:
    assert header_name(header) == name
