"""The sign-in throttle counts the client's address: behind a reverse proxy, TRUSTED_PROXIES
says how many proxies' X-Forwarded-For to believe; without it the header is ignored, so a
client cannot pick its own address to escape the per-address limit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import LoginAttempt
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings, SettingsError
from centralita.web import create_app
from tests.inbox.conftest import World, csrf_token


def _fail_from(client: FlaskClient, forwarded: str) -> None:
    token = csrf_token(client)
    client.post(
        "/login",
        data={"email": "ana@x.co", "password": "mala", "csrf_token": token},
        headers={"X-Forwarded-For": forwarded},
    )


def _addresses(web_rt: Runtime) -> list[str]:
    with web_rt.sessions() as db:
        return list(db.scalars(select(LoginAttempt.ip).order_by(LoginAttempt.id)))


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(
    web_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    _fail_from(web_client, "203.0.113.9")
    assert _addresses(web_rt) == ["127.0.0.1"]


def test_behind_one_trusted_proxy_the_clients_address_is_counted(
    web_rt: Runtime, world: World
) -> None:
    web_rt.settings = replace(web_rt.settings, trusted_proxies=1)
    client = create_app(runtime=web_rt, test_config={"TESTING": True}).test_client()
    # The proxy appends the address it saw; anything before it the client may have forged.
    _fail_from(client, "198.51.100.1, 203.0.113.9")
    assert _addresses(web_rt) == ["203.0.113.9"]


def test_trusted_proxies_must_be_a_small_whole_number() -> None:
    base = {"SECRET_KEY": "x"}
    assert Settings.from_env(base).trusted_proxies == 0
    assert Settings.from_env({**base, "TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({**base, "TRUSTED_PROXIES": "many"})
