"""Durations as flow authors write them: `30s`, `15m`, `2h`, `1d`."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"([0-9]+)([smhd])\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=365)


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse `15m` into a timedelta; anything else raises DurationError saying what is accepted.
    Durations are at most MAX_DURATION (a year); longer ones are errors, not overflows."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise DurationError(
            f"{text!r} is not a duration: write a number and a unit, e.g. 30s, 15m, 2h, 1d"
        )
    digits = match.group(1).lstrip("0")
    limit = int(MAX_DURATION.total_seconds())
    # Longer digit strings than this are over the limit (and int() refuses thousands of digits).
    seconds = int(digits or "0") * _UNIT_SECONDS[match.group(2)] if len(digits) <= 12 else limit + 1
    if seconds <= 0:
        raise DurationError(f"{text!r} is zero: a duration must be longer than that")
    if seconds > limit:
        raise DurationError(
            f"{text.strip()!r} is longer than the maximum duration of "
            f"{format_duration(MAX_DURATION)} (a year)"
        )
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
