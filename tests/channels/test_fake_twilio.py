"""The fake Twilio's status callbacks, control API, inbound webhooks and command line."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from centralita.channels.twilio_client import (
    Client,
    TwilioRestException,
    send_message,
    validate_signature,
)
from centralita.devtools.fake_twilio import (
    FakeTwilio,
    Location,
    Media,
    ScriptError,
    inbound_params,
    post_inbound,
    whatsapp_text_params,
)
from tests.channels.conftest import (
    SMS_CUSTOMER,
    SMS_SENDER,
    WHATSAPP_CUSTOMER,
    WHATSAPP_SENDER,
    Receiver,
)


def _send(twilio: Client, receiver: Receiver, to: str = WHATSAPP_CUSTOMER, **extra: str) -> str:
    sender = WHATSAPP_SENDER if to.startswith("whatsapp:") else SMS_SENDER
    callback = extra.pop("status_callback", receiver.url("/webhooks/twilio/status"))
    sent = send_message(twilio, from_=sender, to=to, body="hola", status_callback=callback)
    return sent.sid


def _statuses(receiver: Receiver) -> list[str | None]:
    return [received.param("MessageStatus") for received in receiver.received]


def test_callbacks_default_to_sent_then_delivered_and_are_signed(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    sid = _send(twilio, receiver)
    fake.flush()

    assert _statuses(receiver) == ["sent", "delivered"]
    for received in receiver.received:
        assert received.path == "/webhooks/twilio/status"
        assert validate_signature(fake.auth_token, received.url, received.form, received.signature)
        assert not validate_signature(
            "other-token", received.url, received.form, received.signature
        )
        assert received.param("MessageSid") == received.param("SmsSid") == sid
        assert received.param("SmsStatus") == received.param("MessageStatus")
        assert received.param("AccountSid") == fake.account_sid
        assert received.param("From") == WHATSAPP_SENDER
        assert received.param("To") == WHATSAPP_CUSTOMER
        assert received.param("ApiVersion") == "2010-04-01"
        assert received.param("ChannelPrefix") == "whatsapp"
        assert received.param("ChannelToAddress") == "+573001112233"
        assert received.param("ErrorCode") is None
    tokens = {received.idempotency_token for received in receiver.received}
    assert len(tokens) == 2 and None not in tokens


def test_scripted_order_with_duplicates_and_out_of_order(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    fake.script(WHATSAPP_CUSTOMER, statuses=["delivered", "sent", "sent", "read", "delivered"])
    sid = _send(twilio, receiver)
    fake.flush()

    assert _statuses(receiver) == ["delivered", "sent", "sent", "read", "delivered"]
    # The resource, like Twilio's, ends at the furthest status reached.
    assert twilio.messages(sid).fetch().status == "read"


@pytest.mark.parametrize(
    ("statuses", "status", "code"),
    [
        (["sent", "undelivered:63016"], "undelivered", 63016),
        (["sent", {"status": "failed", "error_code": 30007}], "failed", 30007),
        (["failed"], "failed", 30008),
    ],
)
def test_failures_carry_their_error_code(
    twilio: Client,
    fake: FakeTwilio,
    receiver: Receiver,
    statuses: list[str | dict[str, Any]],
    status: str,
    code: int,
) -> None:
    fake.script(SMS_CUSTOMER, statuses=statuses)
    sid = _send(twilio, receiver, to=SMS_CUSTOMER)
    fake.flush()

    last = receiver.received[-1]
    assert (last.param("MessageStatus"), last.param("ErrorCode")) == (status, str(code))
    assert last.param("ChannelPrefix") is None  # an SMS
    message = twilio.messages(sid).fetch()
    assert (message.status, message.error_code) == (status, code)
    assert message.error_message


def test_sms_delivery_reports_carry_the_carrier_done_date(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    _send(twilio, receiver, to=SMS_CUSTOMER)
    fake.flush()

    sent, delivered = receiver.received
    assert sent.param("RawDlrDoneDate") is None
    assert re.fullmatch(r"\d{10}", delivered.param("RawDlrDoneDate") or "")


def test_a_receiver_answering_500_gets_retries(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    fake.script(WHATSAPP_CUSTOMER, statuses=["delivered"])
    receiver.fail_next = 2
    _send(twilio, receiver)
    fake.flush()

    assert _statuses(receiver) == ["delivered"] * 3
    assert len({received.idempotency_token for received in receiver.received}) == 1
    assert [(a.attempt, a.response_status) for a in fake.callbacks] == [
        (1, 500),
        (2, 500),
        (3, 200),
    ]


def test_callbacks_are_given_up_after_the_retries(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    fake.script(WHATSAPP_CUSTOMER, statuses=["sent"])
    receiver.fail_next = 100
    _send(twilio, receiver)
    fake.flush()

    assert [a.response_status for a in fake.callbacks] == [500, 500, 500]
    assert fake.state.pending == 0


def test_an_unreachable_receiver_is_retried_then_given_up(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    url = receiver.url("/status")
    receiver.stop()
    fake.script(WHATSAPP_CUSTOMER, statuses=["sent"])
    _send(twilio, receiver, status_callback=url)
    fake.flush()

    assert [(a.attempt, a.response_status) for a in fake.callbacks] == [
        (1, None),
        (2, None),
        (3, None),
    ]
    assert all(a.error for a in fake.callbacks)


def test_behind_a_proxy_the_public_url_is_signed() -> None:
    receiver = Receiver()
    public = "https://centralita.example.com"
    try:
        with FakeTwilio(url_map={public: receiver.base_url}) as fake:
            callback = f"{public}/webhooks/twilio/status?campaign=ventas"
            send_message(
                fake.client(),
                from_=SMS_SENDER,
                to=SMS_CUSTOMER,
                body="hola",
                status_callback=callback,
            )
            fake.flush()
    finally:
        receiver.stop()

    assert len(receiver.received) == 2
    for received in receiver.received:
        assert received.url == f"{receiver.base_url}/webhooks/twilio/status?campaign=ventas"
        assert validate_signature(fake.auth_token, callback, received.form, received.signature)
        assert not validate_signature(
            fake.auth_token, received.url, received.form, received.signature
        )


def test_callback_delay_spaces_the_events(receiver: Receiver) -> None:
    with FakeTwilio(callback_delay=0.05) as fake:
        start = time.monotonic()
        _send(fake.client(), receiver)
        assert receiver.received == []
        fake.flush()
        elapsed = time.monotonic() - start

    assert _statuses(receiver) == ["sent", "delivered"]
    assert 0.1 <= elapsed < 2


def test_flush_times_out_while_callbacks_are_due(receiver: Receiver) -> None:
    with FakeTwilio(callback_delay=30) as fake:
        _send(fake.client(), receiver)
        with pytest.raises(TimeoutError, match="2 status callback"):
            fake.flush(timeout=0.05)


def test_no_status_callback_still_moves_the_status(twilio: Client, fake: FakeTwilio) -> None:
    sent = send_message(twilio, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")
    fake.flush()

    assert fake.callbacks == []
    assert fake.message(sent.sid).status == "delivered"


def test_control_api_from_a_plain_http_client(
    twilio: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    control = f"{fake.base_url}/_fake"
    answer = requests.post(
        f"{control}/scripts",
        json={"to": SMS_CUSTOMER, "reject": {"status": 400, "code": 21610}, "times": 1},
        timeout=5,
    )
    assert answer.status_code == 201
    requests.post(
        f"{control}/scripts",
        json={"to": SMS_CUSTOMER, "statuses": ["sent", "undelivered:30007"]},
        timeout=5,
    )
    scripts = requests.get(f"{control}/scripts", timeout=5).json()["scripts"]
    assert [s["remaining"] for s in scripts[SMS_CUSTOMER]] == [1, None]

    with pytest.raises(TwilioRestException) as raised:
        _send(twilio, receiver, to=SMS_CUSTOMER)
    assert raised.value.code == 21610
    sid = _send(twilio, receiver, to=SMS_CUSTOMER)

    flushed = requests.post(f"{control}/flush", json={"timeout": 5}, timeout=10)
    assert flushed.json() == {"drained": True, "pending": 0}
    messages = requests.get(f"{control}/messages", timeout=5).json()["messages"]
    assert [(m["sid"], m["resource"]["status"]) for m in messages] == [(sid, "undelivered")]
    assert messages[0]["params"]["Body"] == ["hola"]
    recorded = requests.get(f"{control}/requests", timeout=5).json()["requests"]
    assert [r["status"] for r in recorded] == [400, 201]
    callbacks = requests.get(f"{control}/callbacks", timeout=5).json()["callbacks"]
    assert [c["params"]["MessageStatus"] for c in callbacks] == ["sent", "undelivered"]
    assert callbacks[-1]["params"]["ErrorCode"] == "30007"

    assert requests.delete(f"{control}/scripts", timeout=5).json() == {"scripts": {}}
    requests.post(f"{control}/reset", timeout=5)
    assert requests.get(f"{control}/messages", timeout=5).json() == {"messages": []}


@pytest.mark.parametrize(
    "body",
    [
        {"statuses": ["sent"]},  # no "to"
        {"to": SMS_CUSTOMER, "statuses": ["lost"]},
        {"to": SMS_CUSTOMER, "statuses": ["sent:30007"]},
        {"to": SMS_CUSTOMER, "reject": {"status": 200, "code": 1}},
        {"to": SMS_CUSTOMER, "times": 0},
    ],
)
def test_control_api_rejects_bad_scripts(fake: FakeTwilio, body: dict[str, Any]) -> None:
    answer = requests.post(f"{fake.base_url}/_fake/scripts", json=body, timeout=5)

    assert answer.status_code == 400
    assert answer.json()["error"]


def test_scripts_validate_in_python_too(fake: FakeTwilio) -> None:
    with pytest.raises(ScriptError, match="unknown status"):
        fake.script(SMS_CUSTOMER, statuses=["lost"])


@pytest.mark.parametrize(
    ("form", "code", "names"),
    [
        ({"From": SMS_SENDER, "Body": "x"}, 21604, "'To'"),
        ({"To": "+57300", "From": SMS_SENDER, "Body": "x"}, 21211, "'To'"),
        ({"To": SMS_CUSTOMER, "Body": "x"}, 21603, "'From'"),
        ({"To": SMS_CUSTOMER, "From": "whatsapp:abc", "Body": "x"}, 21212, "'From'"),
        ({"To": SMS_CUSTOMER, "From": SMS_SENDER}, 21602, "body"),
        ({"To": SMS_CUSTOMER, "From": SMS_SENDER, "Body": "x" * 1601}, 21617, "1600"),
        ({"To": SMS_CUSTOMER, "From": SMS_SENDER, "MediaUrl": "ftp://x/y"}, 21620, "media"),
        ({"To": WHATSAPP_CUSTOMER, "From": SMS_SENDER, "Body": "x"}, 21910, "'From' and 'To'"),
        (
            {"To": SMS_CUSTOMER, "From": SMS_SENDER, "ContentSid": "HX1"},
            21655,
            "ContentSid",
        ),
        (
            {
                "To": SMS_CUSTOMER,
                "From": SMS_SENDER,
                "ContentSid": "HX" + "0" * 32,
                "ContentVariables": "{not json",
            },
            21656,
            "ContentVariables",
        ),
        (
            {"To": SMS_CUSTOMER, "From": SMS_SENDER, "Body": "x", "StatusCallback": "nope"},
            21609,
            "StatusCallback",
        ),
    ],
)
def test_bad_parameters_get_twilio_errors(
    fake: FakeTwilio, form: dict[str, str], code: int, names: str
) -> None:
    answer = requests.post(
        f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
        data=form,
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )

    assert answer.status_code == 400
    error = answer.json()
    assert set(error) == {"code", "message", "more_info", "status"}
    assert (error["code"], error["status"]) == (code, 400)
    assert error["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert names in error["message"]
    assert fake.messages == []


def test_post_inbound_signs_like_twilio(fake: FakeTwilio, receiver: Receiver) -> None:
    params = whatsapp_text_params(
        account_sid=fake.account_sid,
        from_="+573001112233",
        to="+14155238886",
        body="Hola 👋 ¿qué tal? مرحبا",
        profile_name="Ana Pérez",
    )
    url = receiver.url("/webhooks/twilio/messages")

    status, _ = post_inbound(url, fake.auth_token, params)

    assert status == 200
    (received,) = receiver.received
    assert validate_signature(fake.auth_token, url, received.form, received.signature)
    assert received.form.to_dict() == params
    assert re.fullmatch(r"SM[0-9a-f]{32}", params["MessageSid"])
    assert params["SmsMessageSid"] == params["SmsSid"] == params["MessageSid"]
    assert (params["From"], params["To"]) == ("whatsapp:+573001112233", "whatsapp:+14155238886")
    assert (params["WaId"], params["ProfileName"]) == ("573001112233", "Ana Pérez")
    assert (params["NumMedia"], params["MessageType"], params["ApiVersion"]) == (
        "0",
        "text",
        "2010-04-01",
    )


def test_post_inbound_signs_the_public_url_behind_a_proxy(
    fake: FakeTwilio, receiver: Receiver
) -> None:
    public = "https://centralita.example.com/webhooks/twilio/messages"
    params = whatsapp_text_params(
        account_sid=fake.account_sid, from_="+573001112233", to="+14155238886", body="hola"
    )

    post_inbound(
        receiver.url("/webhooks/twilio/messages"), fake.auth_token, params, signed_url=public
    )

    (received,) = receiver.received
    assert validate_signature(fake.auth_token, public, received.form, received.signature)


def test_inbound_params_for_media_location_and_buttons() -> None:
    account = "AC" + "1" * 32
    media = inbound_params(
        account_sid=account,
        from_="whatsapp:+573001112233",
        to="whatsapp:+14155238886",
        media=[
            Media("https://api.twilio.com/m/1", "image/jpeg"),
            Media("https://x/2", "application/pdf"),
        ],
    )
    assert (media["Body"], media["NumMedia"], media["MessageType"]) == ("", "2", "image")
    assert media["MediaUrl1"] == "https://x/2" and media["MediaContentType1"] == "application/pdf"

    place = inbound_params(
        account_sid=account,
        from_="whatsapp:+573001112233",
        to="whatsapp:+14155238886",
        location=Location(4.60971, -74.08175, "Cra 7 # 1", "Oficina"),
    )
    assert (place["Latitude"], place["Longitude"], place["MessageType"]) == (
        "4.60971",
        "-74.08175",
        "location",
    )
    button = inbound_params(
        account_sid=account,
        from_="whatsapp:+573001112233",
        to="whatsapp:+14155238886",
        body="Sí",
        button_payload="confirm_yes",
    )
    assert (button["ButtonPayload"], button["ButtonText"], button["MessageType"]) == (
        "confirm_yes",
        "confirm_yes",
        "button",
    )
    sms = inbound_params(account_sid=account, from_=SMS_CUSTOMER, to=SMS_SENDER, body="hola")
    assert "WaId" not in sms and "ProfileName" not in sms


def test_module_entry_point_serves_the_api() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "centralita.devtools.fake_twilio",
            "--port",
            "0",
            "--account-sid",
            "AC" + "2" * 32,
            "--auth-token",
            "secret",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = first_line.strip().removeprefix("Fake Twilio on ")
        assert base_url.startswith("http://127.0.0.1:")
        assert "secret" not in process.stdout.readline() + process.stdout.readline()
        answer = requests.get(f"{base_url}/_fake/messages", timeout=5)
        assert answer.json() == {"messages": []}
    finally:
        process.terminate()
        process.wait(timeout=5)
