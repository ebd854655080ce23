"""Reply validation for `ask` steps: what is accepted, and the value stored in the slot."""

from __future__ import annotations

import re

import pytest

from centralita.bot.inputs import Rules, check, normalize_document


def accepts(text: str, **rules: object) -> object:
    result = check(text, Rules(**rules))  # type: ignore[arg-type]
    assert result.ok, f"{text!r} refused: {result.reason}"
    return result.value


def refuses(text: str, **rules: object) -> str:
    result = check(text, Rules(**rules))  # type: ignore[arg-type]
    assert not result.ok, f"{text!r} accepted as {result.value!r}"
    return result.reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.012.345-678", "1012345678"),
        (" 1012 345 678 ", "1012345678"),
        ("79-123-456", "79123456"),
        ("pa123456", "PA123456"),
    ],
)
def test_documents_drop_spaces_dots_and_dashes(text: str, value: str) -> None:
    assert accepts(text, type="document") == value
    assert normalize_document(text) == value


@pytest.mark.parametrize("text", ["", "..", "12", "1012/345", "mi cédula es 123"])
def test_not_documents(text: str) -> None:
    refuses(text, type="document")


@pytest.mark.parametrize(
    ("text", "value"),
    [("150.000", 150000), ("150,000", 150000), ("1.500.000", 1500000), ("42", 42), (" -7 ", -7)],
)
def test_integers_as_customers_write_them(text: str, value: int) -> None:
    result = accepts(text, type="integer")
    assert result == value and isinstance(result, int)


@pytest.mark.parametrize("text", ["12,5", "1.5", "150.00", "doce", "1.2.3", ""])
def test_not_integers(text: str) -> None:
    refuses(text, type="integer")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.234,56", 1234.56),
        ("1,234.56", 1234.56),
        ("12,5", 12.5),
        ("12.5", 12.5),
        ("150.000", 150000.0),
        ("$ 20.000", 20000.0),
        ("7", 7.0),
    ],
)
def test_numbers_as_customers_write_them(text: str, value: float) -> None:
    assert accepts(text, type="number") == pytest.approx(value)


@pytest.mark.parametrize("text", ["nan", "inf", "1e999", "doce", "1,2,3.4.5", ""])
def test_not_numbers(text: str) -> None:
    refuses(text, type="number")


@pytest.mark.parametrize(
    "text", ["2026-03-15", "15/03/2026", "15-03-2026", "15.03.2026", "15/03/26", " 15/03/2026 "]
)
def test_dates_in_every_accepted_format(text: str) -> None:
    assert accepts(text, type="date") == "2026-03-15"


@pytest.mark.parametrize("text", ["31/02/2026", "mañana", "2026/03/15", "03-15-2026", ""])
def test_not_dates(text: str) -> None:
    refuses(text, type="date")


def test_date_bounds_compare_as_dates() -> None:
    assert accepts("15/03/2026", type="date", min="2026-03-01", max="2026-03-31") == "2026-03-15"
    assert "below" in refuses("28/02/2026", type="date", min="2026-03-01")
    assert "above" in refuses("01/04/2026", type="date", max="2026-03-31")


def test_emails_are_lower_cased() -> None:
    assert accepts(" Ana.Maria@Example.COM ", type="email") == "ana.maria@example.com"
    for bad in ["ana", "ana@", "ana@example", "ana @example.com", "a@b@c.com"]:
        refuses(bad, type="email")


def test_phones_drop_separators() -> None:
    assert accepts("+57 (300) 123-4567", type="phone") == "+573001234567"
    assert accepts("300.123.4567", type="phone") == "3001234567"
    for bad in ["123", "tel 3001234567", "+57 300 123 4567 8901 234"]:
        refuses(bad, type="phone")


def test_min_and_max_bound_numbers() -> None:
    assert accepts("1.000", type="integer", min=1000, max=5000) == 1000
    assert accepts("5.000", type="integer", min=1000, max=5000) == 5000
    assert "below" in refuses("999", type="integer", min=1000)
    assert "above" in refuses("5.001", type="integer", max=5000)
    assert "above" in refuses("10,5", type="number", max=10)


def test_lengths_count_the_normalised_value() -> None:
    assert accepts("  ab  ", min_length=2, max_length=2) == "ab"
    assert "shorter" in refuses("a", min_length=2)
    assert "longer" in refuses("abc", max_length=2)
    assert accepts("1.012.345", type="document", max_length=7) == "1012345"


def test_choices_are_case_insensitive_and_store_the_choice_as_written() -> None:
    assert accepts("EFECTIVO", choices=("Efectivo", "Tarjeta")) == "Efectivo"
    refuses("cheque", choices=("Efectivo", "Tarjeta"))
    assert accepts("2", type="integer", choices=("1", "2")) == "2"


def test_normalisation_comes_first() -> None:
    assert accepts("tel: 300-123-4567", normalize=("digits",), pattern=re.compile(r"3\d{9}")) == (
        "3001234567"
    )
    assert accepts("  Hola   Mundo ", normalize=("strip", "upper")) == "HOLA MUNDO"
    assert accepts("ABC", normalize=("lower",), choices=("abc",)) == "abc"


def test_pattern_must_match_the_whole_reply() -> None:
    code = re.compile(r"[A-Z]{3}\d{3}")
    assert accepts("ABC123", pattern=code) == "ABC123"
    refuses("ABC1234", pattern=code)
    refuses("xABC123", pattern=code)
    assert "pattern" in refuses("ABC12", pattern=code)


def test_empty_text_reply_is_refused() -> None:
    assert refuses("   ") == "empty reply"
    assert accepts(" hola ") == "hola"
