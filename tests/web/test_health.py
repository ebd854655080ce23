from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from centralita.core.db import make_engine
from centralita.core.settings import Settings
from centralita.web import create_app
from centralita.web.services import services

UNREACHABLE_DATABASES = [
    pytest.param("sqlite:////nonexistent-dir/centralita.db", id="sqlite"),
    pytest.param("postgresql+psycopg://root@127.0.0.1:1/test", id="postgresql"),
]


MakeClient = Callable[[Settings], FlaskClient]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Build a client for given settings; the apps' engines are disposed after the test."""
    apps: list[Flask] = []

    def make(settings: Settings) -> FlaskClient:
        app = create_app(settings, {"TESTING": True})
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        services(app).engine.dispose()


def test_healthz_with_redis_disabled(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"db": "ok", "redis": "disabled"}


def test_healthz_with_redis(settings: Settings, redis_url: str, make_client: MakeClient) -> None:
    client = make_client(dataclasses.replace(settings, redis_url=redis_url))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"db": "ok", "redis": "ok"}


def test_healthz_is_503_when_redis_is_down(settings: Settings, make_client: MakeClient) -> None:
    down = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    response = make_client(down).get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "ok", "redis": "error"}


@pytest.mark.parametrize("url", UNREACHABLE_DATABASES)
def test_healthz_is_503_when_the_database_is_unreachable(url: str, make_client: MakeClient) -> None:
    settings = Settings(secret_key="x", database_url=url)
    response = make_client(settings).get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "error", "redis": "disabled"}


def test_healthz_answers_while_sqlite_is_busy_writing(
    sqlite_url: str, make_client: MakeClient
) -> None:
    client = make_client(Settings(secret_key="x", database_url=sqlite_url))
    writer_engine = make_engine(sqlite_url)
    with writer_engine.connect() as writer:
        writer.execute(text("CREATE TABLE busy (x INTEGER)"))  # holds the write lock
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
        writer.rollback()
    writer_engine.dispose()
    assert response.status_code == 200
    assert elapsed < 1  # it did not wait for the writer's lock


def test_create_app_reads_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app()
    try:
        assert app.config["SECRET_KEY"] == "from-the-environment"
        assert services(app).settings.database_url == sqlite_url
        assert services(app).redis is None
    finally:
        services(app).engine.dispose()


def test_test_config_overrides_the_app_config(settings: Settings) -> None:
    app = create_app(settings, {"TESTING": True, "SECRET_KEY": "override"})
    try:
        assert app.testing
        assert app.config["SECRET_KEY"] == "override"
    finally:
        services(app).engine.dispose()
