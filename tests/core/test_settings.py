from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from centralita.core.settings import Settings, SettingsError, database_url_from_env, redact_url

BASE = {"SECRET_KEY": "k" * 32}


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_env(BASE)
    assert settings.database_url == "sqlite:///instance/centralita.db"
    assert settings.redis_url is None
    assert settings.public_base_url == "http://127.0.0.1:5000"
    assert settings.twilio_account_sid is None
    assert settings.twilio_auth_token is None
    assert not settings.twilio_enabled
    assert settings.twilio_api_base_url == "https://api.twilio.com"
    assert settings.default_flow is None
    assert settings.flows_dir == Path("flows")
    assert settings.storage_dir == Path("instance/storage")
    assert settings.demo is False


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "DATABASE_URL": "postgres://app:pw@db:5432/centralita",
            "REDIS_URL": "redis://cache:6379/0",
            "PUBLIC_BASE_URL": "https://bots.example.com/",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9999",
            "DEFAULT_FLOW": "cobranza",
            "FLOWS_DIR": "/srv/flows",
            "STORAGE_DIR": "/srv/storage",
        }
    )
    assert settings.database_url == "postgres://app:pw@db:5432/centralita"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.public_base_url == "https://bots.example.com"  # one form: no trailing slash
    assert settings.twilio_enabled
    assert settings.twilio_api_base_url == "http://127.0.0.1:9999"
    assert settings.default_flow == "cobranza"
    assert settings.flows_dir == Path("/srv/flows")
    assert settings.storage_dir == Path("/srv/storage")


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({**BASE, "REDIS_URL": "", "DATABASE_URL": "  "})
    assert settings.redis_url is None
    assert settings.database_url == "sqlite:///instance/centralita.db"


def test_secret_key_is_required_outside_demo() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({})
    assert info.value.variable == "SECRET_KEY"
    assert str(info.value).startswith("SECRET_KEY: not set. Set it to a long random string")


def test_demo_uses_one_random_key_per_process() -> None:
    first = Settings.from_env({}, demo=True)
    second = Settings.from_env({}, demo=True)
    assert first.demo
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert Settings.from_env(BASE, demo=True).secret_key == BASE["SECRET_KEY"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL: not a database URL. Use sqlite:///PATH"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: unsupported database 'mysql'"),
        ("DATABASE_URL", "sqlite://", "DATABASE_URL: SQLite URL without a file path"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: not a Redis URL. Use redis://"),
        ("PUBLIC_BASE_URL", "bots.example.com", "PUBLIC_BASE_URL: 'bots.example.com' is not"),
        ("TWILIO_API_BASE_URL", "ftp://x", "TWILIO_API_BASE_URL: 'ftp://x' is not an http"),
    ],
)
def test_bad_values_name_the_variable_and_the_fix(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, variable: value})
    assert info.value.variable == variable
    assert str(info.value).startswith(message)


def test_twilio_credentials_come_in_pairs() -> None:
    with pytest.raises(SettingsError, match=r"^TWILIO_AUTH_TOKEN: not set") as info:
        Settings.from_env({**BASE, "TWILIO_ACCOUNT_SID": "AC123"})
    assert info.value.variable == "TWILIO_AUTH_TOKEN"
    with pytest.raises(SettingsError, match=r"^TWILIO_ACCOUNT_SID: not set"):
        Settings.from_env({**BASE, "TWILIO_AUTH_TOKEN": "token"})


def test_an_api_key_sid_is_not_taken_for_an_account_sid() -> None:
    with pytest.raises(SettingsError, match=r"^TWILIO_ACCOUNT_SID: .*starts with 'AC'"):
        Settings.from_env({**BASE, "TWILIO_ACCOUNT_SID": "SK123", "TWILIO_AUTH_TOKEN": "t"})


def test_repr_never_shows_secrets() -> None:
    settings = Settings.from_env(
        {
            "SECRET_KEY": "the-secret-key-value",
            "DATABASE_URL": "postgresql+psycopg://app:db-password@db/centralita",
            "REDIS_URL": "redis://:redis-password@cache:6379/0",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": "the-auth-token",
        }
    )
    for shown in (repr(settings), str(settings), f"{settings}"):
        for secret in ("the-secret-key-value", "db-password", "redis-password", "the-auth-token"):
            assert secret not in shown
        assert "app:***@db/centralita" in shown
        assert "redis://:***@cache:6379/0" in shown
        assert "AC" + "1" * 32 in shown  # the account SID is not a secret and helps debugging


def test_settings_are_frozen() -> None:
    settings = Settings.from_env(BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.database_url = "sqlite:///other.db"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////var/lib/c.db", "sqlite:////var/lib/c.db"),
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_database_url_alone_needs_no_secret_key() -> None:
    assert database_url_from_env({"DATABASE_URL": "sqlite:///x.db"}) == "sqlite:///x.db"
    with pytest.raises(SettingsError, match=r"^DATABASE_URL"):
        database_url_from_env({"DATABASE_URL": "oracle://x"})
