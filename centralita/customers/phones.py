"""Phone numbers from customer files to E.164 (`+573001234567`), with `phonenumbers`.

`phonenumbers.parse` + `is_valid_number` cost about 45 µs a number: 45 s for a million-row
file, far over the import's budget. Most numbers in a campaign's file are plain mobile or
fixed-line numbers of the default region, or of one country written with `+`, so `E164Phones`
first tries a fast path that replays, for digit-only input, exactly the steps of
`phonenumbers.parse` that such a number goes through (no IDD or national prefix to strip, one
region for the calling code), and accepts only numbers that match the region's mobile or
fixed-line pattern: numbers `phonenumbers` itself calls valid. Anything else (letters,
extensions, prefixes, other number types, invalid numbers) goes through `phonenumbers` in full.
tests/customers/test_phones.py checks the two agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberDesc, PhoneNumberFormat

from centralita.core.settings import DEFAULT_PHONE_REGION, SettingsError, phone_region_from_env

# The region is a setting now (`Settings.default_phone_region`, read by
# `settings.phone_region_from_env`); these names stay for the modules that import them here.
PhoneRegionError = SettingsError
__all__ = ["DEFAULT_PHONE_REGION", "E164Phones", "PhoneRegionError", "phone_region_from_env"]

_SEPARATORS = re.compile(r"[\s\-.()/]+")
_DIGITS = re.compile(r"\+?[0-9]{2,17}\Z")


def _desc_pattern(desc: PhoneNumberDesc | None) -> str | None:
    """A regex for `desc` as phonenumbers applies it: possible lengths, then the pattern."""
    if desc is None or not desc.national_number_pattern:
        return None
    given = desc.possible_length or ()
    lengths = "|".join(f"[0-9]{{{n}}}\\Z" for n in sorted(set(given)) if n > 0)
    if given and not lengths:  # (-1,): no number is of this kind
        return None
    check_length = f"(?={lengths})" if lengths else ""
    return f"{check_length}(?:{desc.national_number_pattern})\\Z"


@dataclass(frozen=True)
class _Rules:
    """What the fast path needs of one region's metadata, compiled once."""

    country_code: str
    # The whole general description: a national number is never longer.
    general: re.Pattern[str]
    # A national number that phonenumbers would keep as it is (no leading zero, no national
    # prefix to strip) and call valid (it matches the mobile or the fixed-line pattern), in
    # one regex: each regex call costs about a microsecond.
    national: re.Pattern[str]
    idd: re.Pattern[str] | None


@cache
def _rules(region: str) -> _Rules | None:
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    general = _desc_pattern(metadata.general_desc)
    kinds = [k for k in (_desc_pattern(metadata.mobile), _desc_pattern(metadata.fixed_line)) if k]
    if general is None or not kinds:
        return None
    prefix = metadata.national_prefix_for_parsing
    no_prefix = f"(?!{prefix})" if prefix else ""
    either = "|".join(f"(?:{kind})" for kind in kinds)
    idd = metadata.international_prefix
    return _Rules(
        country_code=str(metadata.country_code),
        general=re.compile(general),
        national=re.compile(f"(?!0){no_prefix}(?={general})(?:{either})"),
        idd=re.compile(idd) if idd else None,
    )


@cache
def _single_region_rules(country_code: str) -> _Rules | None:
    """The rules of the one region using this calling code (None: unknown or shared, e.g. +1)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(country_code), ())
    return _rules(regions[0]) if len(regions) == 1 else None


class E164Phones:
    """Turns what people type in a phone column into E.164, or None when it is not valid."""

    def __init__(self, region: str = DEFAULT_PHONE_REGION) -> None:
        self.region = region
        self._rules = _rules(region)

    def __call__(self, text: str) -> str | None:
        compact = text if text.isascii() and text.isdigit() else _SEPARATORS.sub("", text)
        if _DIGITS.match(compact):
            fast = self._fast(compact)
            if fast is not None:
                return fast
        return self._slow(text)

    def _fast(self, digits: str) -> str | None:
        if digits[0] == "+":
            if digits[1] == "0":
                return None
            # phonenumbers takes the shortest known calling code (1 to 3 digits).
            for size in (1, 2, 3):
                code = digits[1 : 1 + size]
                if int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                    rules = _single_region_rules(code)
                    national = digits[1 + size :]
                    if rules and rules.national.match(national):
                        return f"+{code}{national}"
                    return None
            return None
        rules = self._rules
        if rules is None or (rules.idd and rules.idd.match(digits)):
            return None
        code = rules.country_code
        if digits.startswith(code):
            # `573001234567`: the default region's code written without `+`. phonenumbers
            # strips it when the whole is not a national number but the rest is.
            national = digits[len(code) :]
            if not rules.general.match(digits) and rules.national.match(national):
                return f"+{code}{national}"
            return None
        if rules.national.match(digits):
            return f"+{code}{digits}"
        return None

    def _slow(self, text: str) -> str | None:
        try:
            number = phonenumbers.parse(text, self.region)
        except NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
