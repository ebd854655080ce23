"""A local Twilio: the Messages API as the real `twilio` client sees it, plus signed callbacks.

    with FakeTwilio() as fake:
        client = make_client(fake.account_sid, fake.auth_token, fake.base_url)
        fake.script("whatsapp:+573001112233", statuses=["sent", "failed:63016"])
        ...send, then fake.flush() and assert on fake.messages / fake.callbacks

Or by hand: `python -m centralita.devtools.fake_twilio --port 8089 --account-sid AC...
--auth-token ...` and `TWILIO_API_BASE_URL=http://127.0.0.1:8089`.

REST (as Twilio, HTTP Basic auth with the Account SID and auth token):
  POST /2010-04-01/Accounts/<AccountSid>/Messages.json        create, 201 + Message resource
  GET  /2010-04-01/Accounts/<AccountSid>/Messages/<Sid>.json  fetch
Errors are Twilio's JSON `{"code", "message", "more_info", "status"}`.

Control API (JSON, no auth: bind to 127.0.0.1 only), for tests and benchmarks elsewhere:
  GET  /_fake/messages | /_fake/requests | /_fake/callbacks      what was received and posted
  GET  /_fake/scripts                                             scripts per recipient
  POST /_fake/scripts  {"to", "reject": {"status", "code"}?, "statuses": [...]?, "times"?}
  DELETE /_fake/scripts[?to=...]                                  forget scripts
  POST /_fake/flush {"timeout": 5}   wait for pending callbacks: 200, or 504 if still pending
  POST /_fake/reset                  forget everything
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest

from centralita.channels.twilio_client import Client, make_client
from centralita.devtools.fake_twilio_state import (
    API_VERSION,
    CallbackAttempt,
    FakeMessage,
    FakeTwilioState,
    RecordedRequest,
    Rejection,
    Script,
    ScriptError,
    Step,
    error_message,
    rfc2822_now,
)
from centralita.devtools.server import BackgroundServer
from centralita.devtools.twilio_inbound import (
    Location,
    Media,
    inbound_params,
    post_inbound,
    signed_headers,
    whatsapp_text_params,
)

__all__ = [
    "CallbackAttempt",
    "FakeMessage",
    "FakeTwilio",
    "FakeTwilioState",
    "Location",
    "Media",
    "RecordedRequest",
    "Rejection",
    "Script",
    "ScriptError",
    "Step",
    "create_fake_twilio",
    "fake_state",
    "inbound_params",
    "post_inbound",
    "signed_headers",
    "whatsapp_text_params",
]

EXTENSION_KEY: Final = "fake_twilio"
MAX_BODY: Final = 1600
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_SHORT_CODE = re.compile(r"^\d{5,6}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-f]{32}$")
_MESSAGE_PATH = "/2010-04-01/Accounts/<account_sid>/Messages"


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str | None = None) -> None:
        super().__init__(message or error_message(code))
        self.status = status
        self.code = code
        self.message = message or error_message(code)


def create_fake_twilio(
    account_sid: str,
    auth_token: str,
    *,
    callback_delay: float = 0.0,
    callback_retries: int = 2,
    retry_backoff: float = 0.05,
    url_map: Mapping[str, str] | None = None,
) -> Flask:
    """The fake as a Flask app; its state is `fake_state(app)`.

    `callback_delay`: seconds between a message's status events (the first comes that long
    after the create). `callback_retries`: extra tries for a callback that got a 5xx or no
    answer, `retry_backoff` * n seconds apart. `url_map`: public URL prefix -> local prefix to
    post callbacks to instead (the signature still covers the public URL, as behind a proxy).
    """
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = FakeTwilioState(
        account_sid,
        auth_token,
        callback_delay=callback_delay,
        callback_retries=callback_retries,
        retry_backoff=retry_backoff,
        url_map=url_map,
    )
    app.register_blueprint(_api)
    app.register_blueprint(_control)
    return app


def fake_state(app: Flask | None = None) -> FakeTwilioState:
    state: FakeTwilioState = (app or current_app).extensions[EXTENSION_KEY]
    return state


# -- the REST API ----------------------------------------------------------------------------

_api = Blueprint("fake_twilio_api", __name__)


@_api.errorhandler(_ApiError)
def _api_error(error: _ApiError) -> Response:
    response = jsonify(
        {
            "code": error.code,
            "message": error.message,
            "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
            "status": error.status,
        }
    )
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return response


@_api.after_request
def _record(response: Response) -> Response:
    authorization = request.authorization
    fake_state().record_request(
        RecordedRequest(
            method=request.method,
            path=request.path,
            params=_form(),
            username=None if authorization is None else authorization.username,
            status=response.status_code,
            time=time.time(),
        )
    )
    return response


@_api.post(f"{_MESSAGE_PATH}.json")
def _create_message(account_sid: str) -> tuple[Response, int]:
    state = fake_state()
    _authenticate(state, account_sid)
    form = _form()
    fields = _validate(form)
    script = state.take_script(fields["To"])
    if script.reject is not None:
        reject = script.reject
        raise _ApiError(reject.status, reject.code, reject.message)
    message = _new_message(state, form, fields, script.steps)
    state.add_message(message)
    return jsonify(message.resource), 201


@_api.get(f"{_MESSAGE_PATH}/<sid>.json")
def _fetch_message(account_sid: str, sid: str) -> Response:
    state = fake_state()
    _authenticate(state, account_sid)
    resource = state.resource(sid)
    if resource is None:
        raise _ApiError(404, 20404, f"The requested resource {request.path} was not found")
    return jsonify(resource)


def _authenticate(state: FakeTwilioState, account_sid: str) -> None:
    auth = request.authorization
    username = "" if auth is None else auth.username or ""
    password = "" if auth is None else auth.password or ""
    valid = (
        hmac.compare_digest(username.encode(), state.account_sid.encode())
        and hmac.compare_digest(password.encode(), state.auth_token.encode())
        and account_sid == state.account_sid
    )
    if not valid:
        raise _ApiError(401, 20003)


def _form() -> dict[str, list[str]]:
    return {name: request.form.getlist(name) for name in request.form}


def _validate(form: Mapping[str, list[str]]) -> dict[str, str]:
    """Twilio's checks, in its order; the first problem answers 400 with its code."""

    def one(name: str) -> str:
        values = form.get(name)
        return values[0] if values else ""

    to, sender, service = one("To"), one("From"), one("MessagingServiceSid")
    body, content_sid, content_variables = one("Body"), one("ContentSid"), one("ContentVariables")
    media_urls = [url for url in form.get("MediaUrl", []) if url]
    callback = one("StatusCallback")
    if not to:
        raise _ApiError(400, 21604)
    if not _PHONE.match(to.removeprefix("whatsapp:")):
        raise _ApiError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
    if not sender and not service:
        raise _ApiError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
    if service and not _SERVICE_SID.match(service):
        raise _ApiError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
    if sender:
        address = sender.removeprefix("whatsapp:")
        valid_sender = _PHONE.match(address) or (
            not sender.startswith("whatsapp:")
            and (_SHORT_CODE.match(address) or _ALPHANUMERIC_SENDER.match(address))
        )
        if not valid_sender:
            raise _ApiError(
                400,
                21212,
                f"The 'From' number {sender} is not a valid phone number, shortcode, "
                "or alphanumeric sender ID.",
            )
        if sender.startswith("whatsapp:") != to.startswith("whatsapp:"):
            raise _ApiError(400, 21910)
    if not body and not media_urls and not content_sid:
        raise _ApiError(400, 21602)
    if len(body) > MAX_BODY:
        raise _ApiError(400, 21617)
    if any(not _is_http_url(url) for url in media_urls):
        raise _ApiError(400, 21620)
    if content_sid and not _CONTENT_SID.match(content_sid):
        raise _ApiError(400, 21655)
    if content_variables:
        try:
            variables = json.loads(content_variables)
        except ValueError:
            variables = None
        if not isinstance(variables, dict):
            raise _ApiError(400, 21656)
    if callback and not _is_http_url(callback):
        raise _ApiError(400, 21609)
    return {"To": to, "From": sender, "MessagingServiceSid": service, "Body": body}


def _new_message(
    state: FakeTwilioState,
    form: dict[str, list[str]],
    fields: Mapping[str, str],
    steps: tuple[Step, ...],
) -> FakeMessage:
    sid = "SM" + uuid.uuid4().hex
    now = rfc2822_now()
    to, body = fields["To"], fields["Body"]
    service = fields["MessagingServiceSid"] or None
    uri = f"/2010-04-01/Accounts/{state.account_sid}/Messages/{sid}"
    resource: dict[str, Any] = {
        "account_sid": state.account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        # With a Messaging Service Twilio picks the sender later: `from` is null at first.
        "from": fields["From"] or None,
        "messaging_service_sid": service,
        "num_media": str(len([url for url in form.get("MediaUrl", []) if url])),
        "num_segments": "0" if service else _segments(body, to),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if service else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": to,
        "uri": f"{uri}.json",
    }
    return FakeMessage(sid, form, resource, steps, time.time())


def _segments(body: str, to: str) -> str:
    if to.startswith("whatsapp:") or not body:
        return "1"
    gsm = all(ord(char) < 128 for char in body)
    single, multi = (160, 153) if gsm else (70, 67)
    return "1" if len(body) <= single else str(-(-len(body) // multi))


def _is_http_url(url: str) -> bool:
    return re.match(r"^https?://[^/\s]+", url) is not None


# -- the control API -------------------------------------------------------------------------

_control = Blueprint("fake_twilio_control", __name__, url_prefix="/_fake")


@_control.errorhandler(ScriptError)
@_control.errorhandler(BadRequest)
def _control_error(error: Exception) -> tuple[Response, int]:
    message = error.description if isinstance(error, BadRequest) else str(error)
    return jsonify({"error": message}), 400


@_control.get("/messages")
def _messages() -> Response:
    return jsonify({"messages": [message.to_json() for message in fake_state().messages]})


@_control.get("/requests")
def _requests() -> Response:
    return jsonify({"requests": [recorded.to_json() for recorded in fake_state().requests]})


@_control.get("/callbacks")
def _callbacks() -> Response:
    return jsonify({"callbacks": [attempt.to_json() for attempt in fake_state().callbacks]})


@_control.get("/scripts")
def _scripts() -> Response:
    return jsonify({"scripts": fake_state().scripts()})


@_control.post("/scripts")
def _add_script() -> tuple[Response, int]:
    data = _json_object()
    to = data.get("to")
    if not isinstance(to, str) or not to:
        raise ScriptError("'to' (the recipient address) is required")
    fake_state().add_script(to, Script.from_json(data))
    return jsonify({"scripts": fake_state().scripts()}), 201


@_control.delete("/scripts")
def _clear_scripts() -> Response:
    fake_state().clear_scripts(request.args.get("to"))
    return jsonify({"scripts": fake_state().scripts()})


@_control.post("/flush")
def _flush() -> tuple[Response, int]:
    timeout = _json_object().get("timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ScriptError("timeout must be a number of seconds")
    state = fake_state()
    drained = state.flush(float(timeout))
    return jsonify({"drained": drained, "pending": state.pending}), 200 if drained else 504


@_control.post("/reset")
def _reset() -> Response:
    fake_state().reset()
    return jsonify({"reset": True})


def _json_object() -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ScriptError("the body must be a JSON object")
    return data


# -- the controller --------------------------------------------------------------------------


class FakeTwilio:
    """The fake served on 127.0.0.1 (an OS-chosen port by default) from a background thread.

    Credentials are generated when not given. A context manager; `stop()` ends it.
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        callback_delay: float = 0.0,
        callback_retries: int = 2,
        retry_backoff: float = 0.05,
        url_map: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.app = create_fake_twilio(
            self.account_sid,
            self.auth_token,
            callback_delay=callback_delay,
            callback_retries=callback_retries,
            retry_backoff=retry_backoff,
            url_map=url_map,
        )
        self.state = fake_state(self.app)
        self._server = BackgroundServer(self.app, host=host, port=port)
        self.base_url = self._server.base_url
        self.port = self._server.port

    def client(self, timeout: float | None = 10.0) -> Client:
        """A real `twilio` client pointed at this fake (see `make_client`)."""
        return make_client(self.account_sid, self.auth_token, self.base_url, timeout=timeout)

    @property
    def messages(self) -> list[FakeMessage]:
        return self.state.messages

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    @property
    def callbacks(self) -> list[CallbackAttempt]:
        return self.state.callbacks

    def message(self, sid: str) -> FakeMessage:
        found = self.state.message(sid)
        if found is None:
            raise KeyError(sid)
        return found

    def script(
        self,
        to: str,
        *,
        reject: Rejection | Sequence[Any] | Mapping[str, Any] | None = None,
        statuses: Iterable[str | Mapping[str, Any] | Step] | None = None,
        times: int | None = None,
    ) -> None:
        """What to do with the next messages to `to` (queued after earlier scripts for it).

        `reject=(429, 20429)`: answer the create with that HTTP status and error code.
        `statuses=["sent", "failed:30007"]`: accept, then report these events in this order
        (duplicates and out-of-order allowed); default `["sent", "delivered"]`, `[]` for none.
        `times`: for that many messages only; default: every message until cleared.
        """
        self.state.add_script(to, Script.build(reject=reject, statuses=statuses, times=times))

    def clear_scripts(self, to: str | None = None) -> None:
        self.state.clear_scripts(to)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every scheduled status callback was posted (or given up on)."""
        if not self.state.flush(timeout):
            raise TimeoutError(
                f"{self.state.pending} status callback(s) still pending after {timeout} s"
            )

    def reset(self) -> None:
        self.state.reset()

    def stop(self) -> None:
        self._server.stop()
        self.state.close()

    def __enter__(self) -> FakeTwilio:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# -- python -m centralita.devtools.fake_twilio -----------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m centralita.devtools.fake_twilio",
        description="A local Twilio Messages API that posts signed status callbacks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID"))
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN"))
    parser.add_argument(
        "--callback-delay", type=float, default=0.5, help="seconds between status events"
    )
    parser.add_argument(
        "--url-map",
        action="append",
        default=[],
        metavar="PUBLIC=LOCAL",
        help="post callbacks for URLs starting with PUBLIC to LOCAL instead (signed as PUBLIC)",
    )
    args = parser.parse_args(argv)
    url_map = {}
    for item in args.url_map:
        public, separator, local = item.partition("=")
        if not separator:
            parser.error(f"--url-map takes PUBLIC=LOCAL, not {item!r}")
        url_map[public] = local
    fake = FakeTwilio(
        args.account_sid,
        args.auth_token,
        callback_delay=args.callback_delay,
        url_map=url_map,
        host=args.host,
        port=args.port,
    )
    # A token given on the command line or in the environment is not echoed.
    token = fake.auth_token if args.auth_token is None else "(as given)"
    print(
        f"Fake Twilio on {fake.base_url}\n"
        f"  TWILIO_API_BASE_URL={fake.base_url}\n"
        f"  TWILIO_ACCOUNT_SID={fake.account_sid}\n"
        f"  TWILIO_AUTH_TOKEN={token}\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
