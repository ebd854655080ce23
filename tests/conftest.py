"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), Redis, the web app.

Database tests take `db_url` (an empty database) or `engine` / `sessions` (tables created)
and run once per database: ids `sqlite` and `postgresql`. PostgreSQL comes from
TEST_DATABASE_URL and Redis from TEST_REDIS_URL; when one is unreachable its tests are
skipped, or fail with REQUIRE_SERVICES=1 (as in CI), with a message naming the URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import NoReturn
from uuid import uuid4

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.db import make_engine, normalize_url, session_factory
from centralita.core.models import Base
from centralita.core.settings import Settings, redact_url
from centralita.web import create_app
from centralita.web.services import services

# Browser fixtures (Playwright) are defined once for every directory that uses them.
pytest_plugins = ["tests.browser.playwright_fixtures"]

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
TEST_SECRET_KEY = "test-secret-key"


def unavailable(service: str, url: str, variable: str, error: object) -> NoReturn:
    """Skip (or, with REQUIRE_SERVICES=1, fail) the test: `service` is not reachable."""
    first_line = (str(error).strip().splitlines() or [""])[0]
    message = f"{service} not reachable at {redact_url(url)} ({first_line}); set {variable}"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} to a reachable one (REQUIRE_SERVICES=1: required)", pytrace=False)
    pytest.skip(f"{message} to a reachable one, or REQUIRE_SERVICES=1 to fail instead")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # So `-m "not postgres"` / `-m "not redis"` deselect tests that use those services.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "postgres_url" in fixtures:
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in fixtures:
            item.add_marker(pytest.mark.redis)


# -- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on TEST_DATABASE_URL itself, for creating and dropping test schemas."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    engine = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        unavailable("PostgreSQL", url, "TEST_DATABASE_URL", exc.orig)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """An empty PostgreSQL database: a fresh schema (first on search_path), dropped after."""
    schema = f"centralita_test_{uuid4().hex[:12]}"
    with postgres_admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = normalize_url(postgres_admin.url)
    given = url.query.get("options", ())
    options = " ".join([*([given] if isinstance(given, str) else given), f"-csearch_path={schema}"])
    yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    with postgres_admin.begin() as conn:
        # A test that leaked a connection holding locks fails here instead of hanging.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty SQLite database file (not yet created) in a fresh temporary directory."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'centralita.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` with every table created (from the models, not migrations)."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a test's own arrange and assert steps; closed (and rolled back) after."""
    with sessions() as session:
        yield session


# -- Redis -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except RedisError as exc:
        client.close()
        unavailable("Redis", url, "TEST_REDIS_URL", exc)
    yield client
    client.close()


@pytest.fixture
def redis_url(redis_server: Redis) -> Iterator[str]:
    """TEST_REDIS_URL, its database flushed before and after the test."""
    redis_server.flushdb()
    yield os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    redis_server.flushdb()


# -- the web app and the command line --------------------------------------------------------


@pytest.fixture
def settings(engine: Engine, db_url: str) -> Settings:
    """Settings on the test database (tables created), Redis disabled, no Twilio."""
    return Settings(secret_key=TEST_SECRET_KEY, database_url=db_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings, {"TESTING": True})
    yield app
    services(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
