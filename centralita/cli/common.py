"""What admin commands share: a database session from DATABASE_URL, readable failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from centralita.core.db import make_engine, session_factory
from centralita.core.settings import SettingsError, database_url_from_env, redact_url


@contextmanager
def admin_session() -> Iterator[Session]:
    """One transaction on DATABASE_URL, committed when the command's block ends normally."""
    try:
        url = database_url_from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            yield session
    except DBAPIError as exc:
        first = (str(exc.orig).strip().splitlines() or ["database error"])[0]
        raise click.ClickException(
            f"database {redact_url(url)}: {first} (did you run `centralita db upgrade`?)"
        ) from None
    finally:
        engine.dispose()


def parse_now(value: str | None) -> datetime:
    """A `--now` option's ISO 8601 time with an offset (None: the current time), in UTC."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2026-03-02T15:00:00+00:00",
            param_hint="--now",
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no offset: add one, e.g. {value}+00:00", param_hint="--now"
        )
    return moment.astimezone(UTC)
