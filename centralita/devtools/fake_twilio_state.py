"""What the fake Twilio knows: scripts per recipient, what it was sent, and its callback worker.

Shared by the Flask app (request threads) and the controller (the test's thread), so every
field is guarded by one lock. Status callbacks are jobs in a heap ordered by due time, posted
by a single worker thread: jobs due together leave in the order they were scripted, which is
what lets a test script `delivered` before `sent` and see exactly that order arrive.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Final

from requests import RequestException, Session

from centralita.channels.twilio_client import compute_signature

log = logging.getLogger(__name__)

API_VERSION: Final = "2010-04-01"
# Twilio retries a callback that failed to connect or got a 5xx; the fake does it this often.
DEFAULT_CALLBACK_RETRIES: Final = 2
DEFAULT_RETRY_BACKOFF: Final = 0.05  # seconds; the n-th retry waits n times this
CALLBACK_TIMEOUT: Final = 5.0

# A message's status only moves forward, whatever order its events are reported in.
STATUS_RANK: Final[Mapping[str, int]] = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}
CALLBACK_STATUSES: Final = frozenset(
    {"queued", "sending", "sent", "delivered", "read", "undelivered", "failed", "canceled"}
)
ERROR_STATUSES: Final = frozenset({"failed", "undelivered"})
UNKNOWN_ERROR: Final = 30008  # Twilio's "Unknown error", for a failure scripted without a code


class ScriptError(ValueError):
    """A malformed script (bad status, code or shape); the message says what is wrong."""


@dataclass(frozen=True)
class Step:
    """One status event of an accepted message, reported through a status callback."""

    status: str
    error_code: int | None = None

    def __post_init__(self) -> None:
        if self.status not in CALLBACK_STATUSES:
            raise ScriptError(
                f"unknown status {self.status!r}; use one of {', '.join(sorted(CALLBACK_STATUSES))}"
            )
        if self.error_code is not None and self.status not in ERROR_STATUSES:
            raise ScriptError(f"an error code goes with failed or undelivered, not {self.status}")
        if self.status in ERROR_STATUSES and self.error_code is None:
            object.__setattr__(self, "error_code", UNKNOWN_ERROR)

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | Step) -> Step:
        """`"sent"`, `"failed:30007"`, `{"status": "failed", "error_code": 30007}` or a Step."""
        if isinstance(value, Step):
            return value
        if isinstance(value, str):
            status, _, code = value.partition(":")
            return cls(status, _parse_int(code, "error code") if code else None)
        if isinstance(value, Mapping) and isinstance(value.get("status"), str):
            code_value = value.get("error_code")
            return cls(value["status"], None if code_value is None else _parse_int(code_value))
        raise ScriptError(f"a status step is a string or {{'status', 'error_code'}}: {value!r}")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "error_code": self.error_code}


@dataclass(frozen=True)
class Rejection:
    """Answer the REST call with this HTTP status and Twilio error code instead of accepting."""

    status: int
    code: int
    message: str | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ScriptError(f"a rejection needs a 4xx or 5xx HTTP status, not {self.status}")

    @classmethod
    def parse(cls, value: Rejection | Sequence[Any] | Mapping[str, Any]) -> Rejection:
        """`(429, 20429)`, `{"status": 429, "code": 20429, "message": "..."}` or a Rejection."""
        if isinstance(value, Rejection):
            return value
        if isinstance(value, Mapping):
            message = value.get("message")
            return cls(
                _parse_int(value.get("status"), "status"),
                _parse_int(value.get("code"), "code"),
                None if message is None else str(message),
            )
        if not isinstance(value, str) and len(value) in (2, 3):
            message = None if len(value) == 2 else str(value[2])
            return cls(_parse_int(value[0], "status"), _parse_int(value[1], "code"), message)
        raise ScriptError(f"a rejection is (status, code[, message]): {value!r}")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


DEFAULT_STEPS: Final = (Step("sent"), Step("delivered"))


@dataclass(frozen=True)
class Script:
    """What happens to messages for one recipient: a rejection, or these status events.

    `times`: used for that many messages, then dropped (the next script, or the default
    sent-then-delivered, takes over); None: for every message until cleared.
    """

    reject: Rejection | None = None
    steps: tuple[Step, ...] = DEFAULT_STEPS
    times: int | None = None

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ScriptError(f"times must be at least 1, not {self.times}")

    @classmethod
    def build(
        cls,
        *,
        reject: Rejection | Sequence[Any] | Mapping[str, Any] | None = None,
        statuses: Iterable[str | Mapping[str, Any] | Step] | None = None,
        times: int | None = None,
    ) -> Script:
        steps = DEFAULT_STEPS if statuses is None else tuple(Step.parse(s) for s in statuses)
        return cls(None if reject is None else Rejection.parse(reject), steps, times)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Script:
        statuses = data.get("statuses")
        if statuses is not None and (isinstance(statuses, str) or not isinstance(statuses, list)):
            raise ScriptError("statuses must be a list")
        times = data.get("times")
        return cls.build(
            reject=data.get("reject"),
            statuses=statuses,
            times=None if times is None else _parse_int(times, "times"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "reject": None if self.reject is None else self.reject.to_json(),
            "statuses": [step.to_json() for step in self.steps],
            "times": self.times,
        }


@dataclass(frozen=True)
class RecordedRequest:
    """One call to the fake's REST API (accepted or not), as received."""

    method: str
    path: str
    params: dict[str, list[str]]
    username: str | None  # the Basic-auth user, normally the Account SID
    status: int  # the HTTP status the fake answered
    time: float  # time.time()

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "username": self.username,
            "status": self.status,
            "time": self.time,
        }


@dataclass
class FakeMessage:
    """An accepted message: the form it was created with and its Message resource."""

    sid: str
    params: dict[str, list[str]]
    resource: dict[str, Any]  # what GET .../Messages/<sid>.json answers; updated by events
    steps: tuple[Step, ...]
    created_at: float

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    @property
    def to(self) -> str:
        return str(self.resource["to"])

    @property
    def from_(self) -> str | None:
        return self.param("From")

    @property
    def body(self) -> str | None:
        return self.param("Body")

    @property
    def media_urls(self) -> list[str]:
        return list(self.params.get("MediaUrl", []))

    @property
    def status(self) -> str:
        return str(self.resource["status"])

    @property
    def status_callback(self) -> str | None:
        return self.param("StatusCallback")

    def to_json(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "params": self.params,
            "resource": self.resource,
            "statuses": [step.to_json() for step in self.steps],
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class CallbackAttempt:
    """One POST of a status callback (a retry is another attempt with the same token)."""

    message_sid: str
    url: str  # the StatusCallback URL, which the signature covers
    target: str  # where it was posted (differs under `url_map`, like behind a proxy)
    params: dict[str, str]
    signature: str
    idempotency_token: str
    attempt: int  # 1 for the first try
    response_status: int | None  # None: no HTTP answer (refused, timed out)
    error: str | None
    time: float

    @property
    def ok(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "message_sid": self.message_sid,
            "url": self.url,
            "target": self.target,
            "params": self.params,
            "signature": self.signature,
            "idempotency_token": self.idempotency_token,
            "attempt": self.attempt,
            "response_status": self.response_status,
            "error": self.error,
            "time": self.time,
        }


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    message_sid: str = field(compare=False)
    step: Step = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(default=1, compare=False)
    params: dict[str, str] | None = field(default=None, compare=False)
    token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)


@dataclass
class _Slot:
    script: Script
    remaining: int | None


class FakeTwilioState:
    """The fake's memory and its status-callback worker (started on the first callback)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        callback_delay: float = 0.0,
        callback_retries: int = DEFAULT_CALLBACK_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        url_map: Mapping[str, str] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callback_delay = callback_delay
        self.callback_retries = callback_retries
        self.retry_backoff = retry_backoff
        # Public URL prefix -> where to post instead; the signature still covers the public URL.
        self.url_map = dict(url_map or {})
        self.channel_install_sid = "XE" + uuid.uuid4().hex
        self._cond = threading.Condition(threading.RLock())
        self._requests: list[RecordedRequest] = []
        self._messages: dict[str, FakeMessage] = {}
        self._callbacks: list[CallbackAttempt] = []
        self._scripts: dict[str, list[_Slot]] = {}
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._pending = 0
        self._generation = 0
        self._closed = False
        self._worker: threading.Thread | None = None

    # -- scripts ---------------------------------------------------------------------------

    def add_script(self, to: str, script: Script) -> None:
        """Queue `script` for messages to `to`, after any scripts already queued for it."""
        with self._cond:
            self._scripts.setdefault(to, []).append(_Slot(script, script.times))

    def clear_scripts(self, to: str | None = None) -> None:
        with self._cond:
            if to is None:
                self._scripts.clear()
            else:
                self._scripts.pop(to, None)

    def scripts(self) -> dict[str, list[dict[str, Any]]]:
        with self._cond:
            return {
                to: [{**slot.script.to_json(), "remaining": slot.remaining} for slot in slots]
                for to, slots in self._scripts.items()
            }

    def take_script(self, to: str) -> Script:
        """The script for the next message to `to` (counting one use of it)."""
        with self._cond:
            slots = self._scripts.get(to)
            if not slots:
                return Script()
            slot = slots[0]
            if slot.remaining is not None:
                slot.remaining -= 1
                if slot.remaining == 0:
                    slots.pop(0)
                    if not slots:
                        del self._scripts[to]
            return slot.script

    # -- records ---------------------------------------------------------------------------

    def record_request(self, request: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def messages(self) -> list[FakeMessage]:
        with self._cond:
            return list(self._messages.values())

    def message(self, sid: str) -> FakeMessage | None:
        with self._cond:
            return self._messages.get(sid)

    def resource(self, sid: str) -> dict[str, Any] | None:
        with self._cond:
            message = self._messages.get(sid)
            return None if message is None else dict(message.resource)

    @property
    def callbacks(self) -> list[CallbackAttempt]:
        with self._cond:
            return list(self._callbacks)

    def add_message(self, message: FakeMessage) -> None:
        """Keep an accepted message and schedule its status events."""
        with self._cond:
            self._messages[message.sid] = message
            now = time.monotonic()
            for index, step in enumerate(message.steps, start=1):
                due = now + self.callback_delay * index
                job = _Job(due, next(self._seq), message.sid, step, self._generation)
                heapq.heappush(self._jobs, job)
                self._pending += 1
            if message.steps:
                self._ensure_worker()
                self._cond.notify_all()

    def reset(self) -> None:
        """Forget requests, messages, callbacks, scripts and callbacks not yet posted."""
        with self._cond:
            self._requests.clear()
            self._messages.clear()
            self._callbacks.clear()
            self._scripts.clear()
            self._jobs.clear()
            self._pending = 0
            self._generation += 1
            self._cond.notify_all()

    # -- the callback worker ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Status events not yet settled (posted with a 2xx, or given up on)."""
        with self._cond:
            return self._pending

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every scheduled status event is settled; False if `timeout` ran out."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Stop the worker; callbacks not yet posted are dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=CALLBACK_TIMEOUT + 1)

    def _ensure_worker(self) -> None:
        if self._worker is None and not self._closed:
            self._worker = threading.Thread(
                target=self._run, name="fake-twilio-callbacks", daemon=True
            )
            self._worker.start()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._closed:
                if self._jobs:
                    wait = self._jobs[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._jobs)
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        with Session() as session:
            while (job := self._next_job()) is not None:
                try:
                    self._process(job, session)
                except Exception:
                    # The worker's job boundary: one bad job must neither stop the callbacks
                    # after it nor leave flush() waiting.
                    log.exception("fake Twilio: status callback for %s failed", job.message_sid)
                    with self._cond:
                        if job.generation == self._generation:
                            self._settle()

    def _process(self, job: _Job, session: Session) -> None:
        with self._cond:
            message = self._messages.get(job.message_sid)
            if job.generation != self._generation:
                return  # reset since it was scheduled: already forgotten
            if message is None:
                self._settle()
                return
            if job.attempt == 1:
                self._apply(message, job.step)
            url = message.status_callback
            if url is None:
                self._settle()
                return
            if job.params is None:
                job.params = self._callback_params(message, job.step)
            params = job.params
        target = self._target(url)
        signature = compute_signature(self.auth_token, url, params)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": job.token,
            "User-Agent": "TwilioProxy/1.1",
        }
        response_status: int | None = None
        error: str | None = None
        try:
            response = session.post(
                target,
                data=params,
                headers=headers,
                timeout=CALLBACK_TIMEOUT,
                allow_redirects=False,
            )
            response_status = response.status_code
        except RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempt = CallbackAttempt(
            job.message_sid,
            url,
            target,
            dict(params),
            signature,
            job.token,
            job.attempt,
            response_status,
            error,
            time.time(),
        )
        with self._cond:
            if job.generation != self._generation:
                return
            self._callbacks.append(attempt)
            retryable = response_status is None or response_status >= 500
            if retryable and job.attempt <= self.callback_retries and not self._closed:
                job.due = time.monotonic() + self.retry_backoff * job.attempt
                job.seq = next(self._seq)
                job.attempt += 1
                heapq.heappush(self._jobs, job)
                self._cond.notify_all()
            else:
                self._settle()

    def _settle(self) -> None:
        self._pending -= 1
        self._cond.notify_all()

    def _target(self, url: str) -> str:
        for public, local in self.url_map.items():
            if url.startswith(public):
                return local.rstrip("/") + url[len(public.rstrip("/")) :]
        return url

    def _apply(self, message: FakeMessage, step: Step) -> None:
        """The event happens: the resource moves forward (never back) and is dated."""
        resource = message.resource
        now = rfc2822_now()
        resource["date_updated"] = now
        if STATUS_RANK[step.status] < STATUS_RANK.get(str(resource["status"]), 0):
            return
        resource["status"] = step.status
        if step.status == "sent" and resource["date_sent"] is None:
            resource["date_sent"] = now
        if step.error_code is not None:
            resource["error_code"] = step.error_code
            resource["error_message"] = error_message(step.error_code)

    def _callback_params(self, message: FakeMessage, step: Step) -> dict[str, str]:
        """The form Twilio posts to a StatusCallback URL for this event."""
        resource = message.resource
        to = str(resource["to"])
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": sender_of(message),
            "To": to,
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": step.status,
            "SmsStatus": step.status,
        }
        if resource.get("messaging_service_sid"):
            params["MessagingServiceSid"] = str(resource["messaging_service_sid"])
        if step.error_code is not None:
            params["ErrorCode"] = str(step.error_code)
        if to.startswith("whatsapp:"):
            params["ChannelPrefix"] = "whatsapp"
            params["ChannelInstallSid"] = self.channel_install_sid
            params["ChannelToAddress"] = to.removeprefix("whatsapp:")
        elif step.status in ("delivered", "undelivered"):
            params["RawDlrDoneDate"] = datetime.now(UTC).strftime("%y%m%d%H%M")
        return params


# A sender from the Messaging Service's pool, for messages created without `From`.
SERVICE_SENDER: Final = "+15005550006"


def sender_of(message: FakeMessage) -> str:
    sender = message.from_
    if sender:
        return sender
    to = message.to
    return f"whatsapp:{SERVICE_SENDER}" if to.startswith("whatsapp:") else SERVICE_SENDER


ERROR_MESSAGES: Final[Mapping[int, str]] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid StatusCallback url",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21620: "Invalid media URL(s).",
    21655: "The ContentSid is Invalid.",
    21656: "The ContentVariables Parameter is invalid.",
    21701: "The Messaging Service Sid is invalid.",
    21910: "Invalid 'From' and 'To' pair. 'From' and 'To' should be of the same channel.",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63018: "Rate limit exceeded for Channel",
    63024: "Invalid message recipient",
}


def error_message(code: int) -> str:
    return ERROR_MESSAGES.get(code, f"Error {code}")


def rfc2822_now() -> str:
    """Twilio's date format: `Thu, 24 Aug 2023 05:01:45 +0000`."""
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def _parse_int(value: object, what: str = "value") -> int:
    if isinstance(value, bool):
        raise ScriptError(f"{what} must be an integer, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ScriptError(f"{what} must be an integer, not {value!r}")
