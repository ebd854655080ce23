"""Checking an `ask` reply against its `validate` rules.

Normalisation comes first; the other checks and the stored slot use the normalised value.
Numbers are read the way customers in Latin America write them: `150.000` is a hundred and
fifty thousand, `12,5` is twelve and a half.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

_DIGITS = re.compile(r"\D+")
_DOCUMENT_SEPARATORS = re.compile(r"[\s.\-]+")
# 3-20 letters and digits with at least one digit: passports have letters, words are not IDs.
_DOCUMENT = re.compile(r"(?=[A-Z]*[0-9])[0-9A-Z]{3,20}\Z")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_PHONE = re.compile(r"\+?[0-9]{7,15}\Z")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]+")
# Bounded: Python refuses to turn more than 4,300 digits into an int, and no amount a customer
# types needs more than 18.
_INTEGER = re.compile(r"[-+]?[0-9]{1,18}\Z")
_GROUPED_INTEGER = re.compile(r"[-+]?[0-9]{1,3}([.,][0-9]{3}){1,5}\Z")
# Longer than any WhatsApp message: refused before any pattern runs on it.
MAX_REPLY = 4096
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\Z")
# Day first, as written across Latin America; one separator kind per date (15/03-2026 is not).
_DMY_DATE = re.compile(r"([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})\Z")

NORMALIZERS = ("digits", "lower", "upper", "strip")
TYPES = ("text", "integer", "number", "email", "date", "document", "phone")


def normalize_document(text: str) -> str:
    """A document is compared without spaces, dots and dashes: `1.012.345-678` -> `1012345678`."""
    return _DOCUMENT_SEPARATORS.sub("", text.strip()).upper()


def parse_integer(text: str) -> int | None:
    value = text.strip().replace(" ", "")
    if _INTEGER.match(value):
        return int(value)
    if _GROUPED_INTEGER.match(value):
        return int(value.replace(".", "").replace(",", ""))
    return None


def parse_number(text: str) -> float | None:
    value = text.strip().replace(" ", "").lstrip("$")
    whole = parse_integer(value)
    if whole is not None:
        return float(whole)
    if "," in value and "." in value:
        # The later separator is the decimal one: 1.234,56 or 1,234.56.
        decimal = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        value = value.replace(thousands, "").replace(decimal, ".")
    else:
        value = value.replace(",", ".")
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def parse_date(text: str) -> date | None:
    """`2026-03-15`, or day first: `15/03/2026`, `15-03-2026`, `15.03.2026`, `15/03/26`."""
    value = text.strip()
    iso = _ISO_DATE.match(value)
    if iso:
        year, month, day = iso.groups()
    else:
        dmy = _DMY_DATE.match(value)
        if not dmy:
            return None
        day, _, month, year = dmy.groups()
        if len(year) == 2:
            year = "20" + year
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # 31/02/2026
        return None


@dataclass(frozen=True)
class Rules:
    pattern: re.Pattern[str] | None = None
    type: str = "text"
    min: Any = None
    max: Any = None
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    normalize: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checked:
    ok: bool
    value: Any = None
    reason: str = ""  # why it was refused, for logs and flow tests


def _normalize(text: str, steps: tuple[str, ...]) -> str:
    for step in steps:
        if step == "digits":
            text = _DIGITS.sub("", text)
        elif step == "lower":
            text = text.lower()
        elif step == "upper":
            text = text.upper()
        elif step == "strip":
            text = " ".join(text.split())
    return text


def _typed(text: str, kind: str) -> Checked:
    if kind == "text":
        return Checked(bool(text.strip()), text.strip(), "empty reply")
    if kind == "integer":
        number = parse_integer(text)
        return Checked(number is not None, number, "not a whole number")
    if kind == "number":
        real = parse_number(text)
        return Checked(real is not None, real, "not a number")
    if kind == "email":
        email = text.strip().lower()
        return Checked(bool(_EMAIL.match(email)), email, "not an email address")
    if kind == "date":
        day = parse_date(text)
        return Checked(day is not None, day.isoformat() if day else None, "not a date")
    if kind == "document":
        doc = normalize_document(text)
        return Checked(bool(_DOCUMENT.match(doc)), doc, "not a document number")
    if kind == "phone":
        phone = _PHONE_SEPARATORS.sub("", text.strip())
        return Checked(bool(_PHONE.match(phone)), phone, "not a phone number")
    raise ValueError(f"unknown validate type {kind!r}")  # the schema forbids it


def check(text: str, rules: Rules) -> Checked:
    """Normalise, then apply type, pattern, bounds, lengths and choices, in that order."""
    if len(text) > MAX_REPLY:
        return Checked(False, None, f"longer than {MAX_REPLY} characters")
    text = _normalize(text, rules.normalize)
    typed = _typed(text, rules.type)
    if not typed.ok:
        return typed
    value = typed.value
    # The value as text, for pattern and lengths: 50000, not 50000.0.
    shown = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if rules.pattern is not None and not rules.pattern.fullmatch(shown):
        return Checked(False, value, "does not match the pattern")
    if rules.min is not None and value < rules.min:
        return Checked(False, value, f"below the minimum {rules.min}")
    if rules.max is not None and value > rules.max:
        return Checked(False, value, f"above the maximum {rules.max}")
    if rules.min_length is not None and len(shown) < rules.min_length:
        return Checked(False, value, f"shorter than {rules.min_length} characters")
    if rules.max_length is not None and len(shown) > rules.max_length:
        return Checked(False, value, f"longer than {rules.max_length} characters")
    if rules.choices is not None:
        folded = shown.casefold()
        for choice in rules.choices:
            if choice.casefold() == folded:
                return Checked(True, choice)
        return Checked(False, value, "not one of the choices")
    return Checked(True, value)
