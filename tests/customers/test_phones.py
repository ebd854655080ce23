"""Phones to E.164: the fast path must say exactly what phonenumbers says."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centralita.core.settings import Settings, SettingsError, phone_region_from_env
from centralita.customers.phones import E164Phones


def reference(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("3001234567", "+573001234567"),
        ("300 123 4567", "+573001234567"),
        ("300-123-4567", "+573001234567"),
        ("(300) 123.45.67", "+573001234567"),
        ("+57 300 123 4567", "+573001234567"),
        ("573001234567", "+573001234567"),
        ("6012345678", "+576012345678"),  # Bogotá fixed line
        ("+52 55 1234 5678", "+525512345678"),  # Mexico City
        ("+1 202 456 1111", "+12024561111"),  # +1: shared by many regions, slow path
        ("123", None),
        ("3001234567 ext 12", "+573001234567"),
        ("tel: 300 123 4567", "+573001234567"),
        ("no tiene", None),
        ("03001234567", None),  # 0 + a mobile: not a Colombian way of writing it
    ],
)
def test_colombian_default(text: str, e164: str | None) -> None:
    assert E164Phones("CO")(text) == e164
    assert reference(text, "CO") == e164


digits = st.text(alphabet="0123456789", min_size=4, max_size=13)
prefixes = st.sampled_from(["", "+", "+57", "57", "+1", "+52", "52", "+34", "0", "00", "3", "60"])
separated = st.tuples(prefixes, digits, st.booleans()).map(
    lambda t: f"{t[0]}{t[1][:3]} {t[1][3:6]} {t[1][6:]}" if t[2] else t[0] + t[1]
)


@settings(max_examples=3000, deadline=None)
@given(separated, st.sampled_from(["CO", "MX", "PE", "AR", "CL", "EC", "US", "ES", "BR", "VE"]))
def test_fast_path_agrees_with_phonenumbers(text: str, region: str) -> None:
    assert E164Phones(region)(text) == reference(text, region)


def test_region_setting() -> None:
    assert phone_region_from_env({}) == "CO"
    assert phone_region_from_env({"DEFAULT_PHONE_REGION": " mx "}) == "MX"
    assert Settings.from_env({"SECRET_KEY": "k"}).default_phone_region == "CO"
    configured = Settings.from_env({"SECRET_KEY": "k", "DEFAULT_PHONE_REGION": "pe"})
    assert configured.default_phone_region == "PE"
    assert "default_phone_region='PE'" in repr(configured)
    for bad in ("XX", "Colombia"):
        with pytest.raises(SettingsError, match=f"DEFAULT_PHONE_REGION: '{bad.upper()}' is not"):
            Settings.from_env({"SECRET_KEY": "k", "DEFAULT_PHONE_REGION": bad})
