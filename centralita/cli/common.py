"""What admin commands share: a database session from DATABASE_URL, readable failures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
