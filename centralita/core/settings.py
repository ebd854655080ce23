"""Settings: one frozen object built from the environment (see the contract's table).

Every bad value raises `SettingsError` naming the variable and how to fix it, so a wrong
deployment fails at start-up with one readable line instead of a traceback much later.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, overload
from urllib.parse import parse_qsl, urlencode, urlsplit

import phonenumbers

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_DATABASE_URL = "sqlite:///instance/centralita.db"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_TWILIO_API_BASE_URL = "https://api.twilio.com"
DEFAULT_PHONE_REGION = "CO"  # phones without a country code in customer files are Colombian

# psycopg 3 is the one PostgreSQL driver installed; these spellings all mean it.
_POSTGRES_ALIASES = {"postgres", "postgresql", "postgresql+psycopg"}
_REDIS_SCHEMES = {"redis", "rediss", "unix"}
_MASK = "***"


class SettingsError(ValueError):
    """A missing or malformed environment variable; the message says which and how to fix it."""

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        super().__init__(f"{variable}: {problem}. {fix}")
        self.variable = variable


@dataclass(frozen=True, repr=False)
class Settings:
    secret_key: str
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str = DEFAULT_TWILIO_API_BASE_URL
    default_flow: str | None = None
    flows_dir: Path = Path("flows")
    storage_dir: Path = Path("instance/storage")
    default_phone_region: str = DEFAULT_PHONE_REGION
    demo: bool = False
    # Web sign-ins end after this long without activity (docs/web.md).
    session_idle_minutes: int = 30
    # How many reverse proxies in front append X-Forwarded-For (0: none, the header is ignored).
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, demo: bool = False) -> Settings:
        env = _Env(os.environ if environ is None else environ)
        secret_key = env.get("SECRET_KEY")
        if secret_key is None:
            if not demo:
                raise SettingsError(
                    "SECRET_KEY",
                    "not set",
                    'Set it to a long random string, e.g. `python -c "import secrets; '
                    'print(secrets.token_hex(32))"`',
                )
            secret_key = _demo_secret_key()
        sid, token = env.get("TWILIO_ACCOUNT_SID"), env.get("TWILIO_AUTH_TOKEN")
        if (sid is None) != (token is None):
            missing = "TWILIO_AUTH_TOKEN" if token is None else "TWILIO_ACCOUNT_SID"
            raise SettingsError(
                missing,
                "not set while the other Twilio credential is",
                "Set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither for the "
                "console transport",
            )
        if sid is not None and not sid.startswith("AC"):
            raise SettingsError(
                "TWILIO_ACCOUNT_SID",
                f"{sid[:2]!r}... is not an account SID",
                "Use the Account SID from the Twilio console; it starts with 'AC'",
            )
        return cls(
            secret_key=secret_key,
            database_url=database_url_from_env(env.values),
            redis_url=_redis_url(env.get("REDIS_URL")),
            public_base_url=_http_url(
                "PUBLIC_BASE_URL", env.get("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL)
            ),
            twilio_account_sid=sid,
            twilio_auth_token=token,
            twilio_api_base_url=_http_url(
                "TWILIO_API_BASE_URL",
                env.get("TWILIO_API_BASE_URL", DEFAULT_TWILIO_API_BASE_URL),
            ),
            default_flow=env.get("DEFAULT_FLOW"),
            flows_dir=Path(env.get("FLOWS_DIR", "flows")),
            storage_dir=Path(env.get("STORAGE_DIR", "instance/storage")),
            default_phone_region=phone_region_from_env(env.values),
            demo=demo,
            session_idle_minutes=_minutes("SESSION_IDLE_MINUTES", env.get("SESSION_IDLE_MINUTES")),
            trusted_proxies=_proxies(env.get("TRUSTED_PROXIES")),
        )

    @property
    def twilio_enabled(self) -> bool:
        """True when messages really leave the machine and webhook signatures are checked."""
        return self.twilio_auth_token is not None

    def __repr__(self) -> str:
        shown = {
            "database_url": redact_url(self.database_url),
            "redis_url": None if self.redis_url is None else redact_url(self.redis_url),
            "public_base_url": self.public_base_url,
            "twilio_account_sid": self.twilio_account_sid,
            "twilio_auth_token": None if self.twilio_auth_token is None else _MASK,
            "twilio_api_base_url": self.twilio_api_base_url,
            "default_flow": self.default_flow,
            "flows_dir": str(self.flows_dir),
            "storage_dir": str(self.storage_dir),
            "default_phone_region": self.default_phone_region,
            "secret_key": _MASK,
            "demo": self.demo,
            "session_idle_minutes": self.session_idle_minutes,
            "trusted_proxies": self.trusted_proxies,
        }
        inner = ", ".join(f"{name}={value!r}" for name, value in shown.items())
        return f"Settings({inner})"

    __str__ = __repr__


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Only DATABASE_URL, validated: what `db upgrade` needs without a SECRET_KEY."""
    env = _Env(os.environ if environ is None else environ)
    raw = env.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    fix = "Use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"
    # Imported here, not at the top: the process that parses a customer file in parallel
    # (customers/parallel.py) reads the phone region from here and needs no SQLAlchemy.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except ArgumentError:
        raise SettingsError("DATABASE_URL", "not a database URL", fix) from None
    if url.drivername not in {"sqlite", "sqlite+pysqlite"} | _POSTGRES_ALIASES:
        raise SettingsError("DATABASE_URL", f"unsupported database {url.drivername!r}", fix)
    if url.drivername.startswith("sqlite") and not url.database:
        raise SettingsError("DATABASE_URL", "SQLite URL without a file path", fix)
    return raw


def phone_region_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Only DEFAULT_PHONE_REGION (the country of phones written without a country code in
    customer files), validated: what `customers import` needs without a SECRET_KEY."""
    env = _Env(os.environ if environ is None else environ)
    region = env.get("DEFAULT_PHONE_REGION", DEFAULT_PHONE_REGION).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(
            "DEFAULT_PHONE_REGION",
            f"{region!r} is not a region phonenumbers knows",
            "Use a two-letter country code such as CO, MX, PE, CL, AR or EC",
        )
    return region


def redact_url(url: str | URL) -> str:
    """The URL with any password (in the user info or a `password=` query) masked."""
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    parts = urlsplit(text)
    if parts.password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        text = text.replace(parts.netloc, f"{user}:{_MASK}@{hostinfo}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        masked = [(k, _MASK if k == "password" else v) for k, v in pairs]
        text = text.replace(parts.query, urlencode(masked, safe="*"), 1)
    return text


@cache
def _demo_secret_key() -> str:
    # One key per process, so the web app and any other part that asks agree on it.
    return secrets.token_hex(32)


class _Env:
    """The environment with blank values treated as unset (as `FOO=` in a .env file means)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = {k: v.strip() for k, v in values.items() if v.strip()}

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)


def _redis_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    if urlsplit(raw).scheme not in _REDIS_SCHEMES:
        raise SettingsError(
            "REDIS_URL",
            "not a Redis URL",
            "Use redis://HOST:PORT/DB (rediss:// for TLS), or unset it to run jobs in-process",
        )
    return raw


def _minutes(variable: str, raw: str | None, default: int = 30) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 7 * 24 * 60:
        raise SettingsError(
            variable, f"{raw!r} is not a number of minutes", "Use a whole number from 1 to 10080"
        )
    return value


def _proxies(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) > 5:
        raise SettingsError(
            "TRUSTED_PROXIES",
            f"{raw!r} is not a number of proxies",
            "Use how many reverse proxies stand in front of Centralita (0 to 5), e.g. 1 for "
            "one nginx",
        )
    return int(raw)


def _http_url(variable: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(
            variable, f"{raw!r} is not an http(s) URL", "Use a full URL such as https://example.com"
        )
    # Signature checks and callback URLs are built by appending paths: one form only.
    return raw.rstrip("/")
