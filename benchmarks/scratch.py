"""Scratch databases for benchmarks: made empty before a run, removed after, whatever happens."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from centralita.core.db import normalize_url


@contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """A new PostgreSQL database `name` (dropped first if a crashed run left it) on the server
    of `admin_url`, whose role may create databases; its URL, dropped on the way out."""
    admin = make_url(admin_url)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield normalize_url(admin.set(database=name)).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def scratch_database(kind: str, admin_url: str, name: str) -> Iterator[str]:
    """An empty database of `kind` (sqlite: a file in a temporary folder), removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / f'{name}.db'}"
        return
    with postgres_database(admin_url, name) as url:
        yield url
