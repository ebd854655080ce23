"""The one door to Twilio's REST API and webhook signatures: the real `twilio` library, typed.

Everything else in Centralita imports Twilio through here, so the untyped `twilio` package is
named in one module and the rest of the code sees small typed functions:

- `make_client` builds a `twilio.rest.Client` whose requests go to `TWILIO_API_BASE_URL`
  (Twilio itself by default, `centralita.devtools.fake_twilio` in development and tests);
- `send_message` creates one Message resource and returns its sid and status;
- `classify_error` / `describe_error` tell a send job whether a failure is worth a retry;
- `compute_signature` / `validate_signature` are `X-Twilio-Signature`, computed by the
  library's `RequestValidator` (never by hand).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import requests

# The twilio package ships no type stubs or py.typed marker; these names are `Any` to mypy.
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

__all__ = [
    "DEFAULT_API_BASE_URL",
    "SEND_ERRORS",
    "Client",
    "ErrorKind",
    "SendFailure",
    "SentMessage",
    "TwilioRestException",
    "TwilioServiceException",
    "classify_error",
    "compute_signature",
    "describe_error",
    "make_client",
    "send_message",
    "validate_signature",
]

DEFAULT_API_BASE_URL: Final = "https://api.twilio.com"
# The requests library waits forever by default; a send job must not.
DEFAULT_TIMEOUT: Final = 15.0

ErrorKind = Literal["transient", "permanent"]

# What a send can raise besides bugs: catch these around `send_message`, then classify.
SEND_ERRORS: Final[tuple[type[BaseException], ...]] = (
    TwilioRestException,
    TwilioServiceException,
    requests.RequestException,
)

_TOO_MANY_REQUESTS = 20429


class _BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]  # untyped base class
    """Twilio's own HTTP client, sending what it would send to api.twilio.com to `base_url`.

    A custom `http_client` is the extension point twilio-python documents for changing how
    requests are made ("custom HTTP clients"). The rewrite runs after the library has picked
    the host, so `TWILIO_EDGE` / `TWILIO_REGION` hosts (api.<edge>.<region>.twilio.com) are
    redirected too, and a path prefix in `base_url` (a proxy mount point) is kept.
    """

    def __init__(self, base_url: str, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, self.rewrite(url), *args, **kwargs)

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "api.twilio.com" and not (
            host.startswith("api.") and host.endswith(".twilio.com")
        ):
            return url  # another Twilio domain (lookups, content...): left alone
        return urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )


def make_client(
    account_sid: str,
    auth_token: str,
    api_base_url: str = DEFAULT_API_BASE_URL,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Client:
    """A `twilio.rest.Client` for this account whose Messages API calls go to `api_base_url`.

    With the default base URL the client is Twilio's stock one (plus a timeout). Otherwise
    requests for api.twilio.com (the 2010-04-01 API: Messages, Calls...) are sent to
    `api_base_url`, e.g. `http://127.0.0.1:8089` for the fake server; other Twilio domains are
    not redirected. `timeout` (seconds, per request) bounds a hung connection.
    """
    if api_base_url.rstrip("/") == DEFAULT_API_BASE_URL:
        http_client = TwilioHttpClient(timeout=timeout)
    else:
        http_client = _BaseUrlHttpClient(api_base_url, timeout)
    return Client(account_sid, auth_token, http_client=http_client)


@dataclass(frozen=True)
class SentMessage:
    """What Twilio answered to a create: the Message sid (`SM...`) and its first status."""

    sid: str
    status: str


def send_message(
    client: Client,
    *,
    from_: str | None,
    to: str,
    body: str | None = None,
    media_urls: Sequence[str] = (),
    content_sid: str | None = None,
    content_variables: Mapping[str, str] | None = None,
    status_callback: str | None = None,
    messaging_service_sid: str | None = None,
) -> SentMessage:
    """Create one outbound Message (WhatsApp when the addresses are `whatsapp:+...`).

    Give `from_` or `messaging_service_sid` (or both), and `body`, `media_urls` and/or an
    approved template (`content_sid` with its `content_variables`, e.g. {"1": "Ana"}).
    Raises one of `SEND_ERRORS`; see `classify_error`.
    """
    if from_ is None and messaging_service_sid is None:
        raise ValueError("send_message needs from_ or messaging_service_sid")
    arguments: dict[str, object] = {"to": to}
    optional: dict[str, object | None] = {
        "from_": from_,
        "messaging_service_sid": messaging_service_sid,
        "body": body,
        "media_url": list(media_urls) or None,
        "content_sid": content_sid,
        "content_variables": (
            None
            if content_variables is None
            else json.dumps(dict(content_variables), ensure_ascii=False)
        ),
        "status_callback": status_callback,
    }
    arguments.update({name: value for name, value in optional.items() if value is not None})
    message = client.messages.create(**arguments)
    return SentMessage(sid=str(message.sid), status=str(message.status))


@dataclass(frozen=True)
class SendFailure:
    """A failed send, for the outbox row: retry or not, and what Twilio said."""

    kind: ErrorKind
    code: int | None  # Twilio's error code (21211, 20429...), None for network errors
    http_status: int | None
    message: str


def classify_error(exc: BaseException) -> ErrorKind:
    """`transient` when retrying later may succeed, else `permanent`.

    Transient: HTTP 429 / code 20429 (rate limited), 5xx, and network failures (connection
    refused or reset, timeouts). Permanent: any other 4xx (bad number, unsubscribed 21610,
    outside the 24 h window 63016, bad credentials 20003...), and anything unexpected, since
    retrying a bug forever helps no one.
    """
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = _int_or_none(exc.status)
        if status == 429 or _int_or_none(exc.code) == _TOO_MANY_REQUESTS:
            return "transient"
        return "transient" if status is not None and status >= 500 else "permanent"
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return "transient"
    return "permanent"


def describe_error(exc: BaseException) -> SendFailure:
    """`classify_error` plus the code, HTTP status and message worth storing."""
    kind = classify_error(exc)
    if isinstance(exc, TwilioRestException):
        return SendFailure(kind, _int_or_none(exc.code), _int_or_none(exc.status), str(exc.msg))
    if isinstance(exc, TwilioServiceException):
        return SendFailure(kind, _int_or_none(exc.code), _int_or_none(exc.status), str(exc.title))
    return SendFailure(kind, None, None, f"{type(exc).__name__}: {exc}")


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The `X-Twilio-Signature` Twilio sends for a POST of `params` to `url`.

    `params` may be a werkzeug `MultiDict` (repeated names are all signed, as Twilio does).
    """
    signature = RequestValidator(auth_token).compute_signature(url, params)
    return str(signature)


def validate_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether `signature` is Twilio's for a POST of `params` to `url` (the public URL Twilio
    called, query string included: behind a proxy, `PUBLIC_BASE_URL` + path, not the local one).
    """
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    # `validate` computes two HMACs on every request, for the URL with and without its port
    # (Twilio's back end has signed either); the URL as given is one of the two, and the one
    # Twilio signs for a URL configured as PUBLIC_BASE_URL is: one HMAC suffices for nearly
    # every request, and `validate` decides the rest.
    expected = str(validator.compute_signature(url, params))
    if hmac.compare_digest(expected.encode(), signature.encode()):
        return True
    return bool(validator.validate(url, params, signature))


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
