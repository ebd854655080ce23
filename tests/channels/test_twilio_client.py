"""The real twilio client, built by `make_client`, against the fake Twilio."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import requests

from centralita.channels.twilio_client import (
    SEND_ERRORS,
    Client,
    TwilioRestException,
    classify_error,
    describe_error,
    make_client,
    send_message,
)
from centralita.devtools.fake_twilio import FakeTwilio
from tests.channels.conftest import SMS_CUSTOMER, SMS_SENDER, WHATSAPP_CUSTOMER, WHATSAPP_SENDER

SID = re.compile(r"^SM[0-9a-f]{32}$")
SERVICE_SID = "MG" + "0" * 32
CONTENT_SID = "HX" + "a" * 32


def test_create_answers_a_message_resource(twilio: Client, fake: FakeTwilio) -> None:
    message = twilio.messages.create(
        to=WHATSAPP_CUSTOMER, from_=WHATSAPP_SENDER, body="Hola, ¿en qué te ayudo?"
    )

    assert SID.match(message.sid)
    assert message.account_sid == fake.account_sid
    assert (message.to, message.from_) == (WHATSAPP_CUSTOMER, WHATSAPP_SENDER)
    assert message.body == "Hola, ¿en qué te ayudo?"
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.num_media == "0"
    assert message.error_code is None and message.error_message is None
    assert message.messaging_service_sid is None
    assert message.api_version == "2010-04-01"
    assert isinstance(message.date_created, datetime) and message.date_created.tzinfo
    assert message.date_sent is None
    assert message.uri == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{message.sid}.json"
    assert [m.sid for m in fake.messages] == [message.sid]
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.status, recorded.username) == ("POST", 201, fake.account_sid)
    assert recorded.param("Body") == "Hola, ¿en qué te ayudo?"


def test_send_message_returns_sid_and_status(twilio: Client, fake: FakeTwilio) -> None:
    sent = send_message(twilio, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")

    assert SID.match(sent.sid) and sent.status == "queued"
    stored = fake.message(sent.sid)
    assert stored.params == {"To": [SMS_CUSTOMER], "From": [SMS_SENDER], "Body": ["hola"]}


def test_messaging_service_message_is_accepted_without_a_sender(
    twilio: Client, fake: FakeTwilio
) -> None:
    sent = send_message(
        twilio, from_=None, messaging_service_sid=SERVICE_SID, to=SMS_CUSTOMER, body="hola"
    )

    resource = twilio.messages(sent.sid).fetch()
    assert sent.status == "accepted"
    assert resource.messaging_service_sid == SERVICE_SID and resource.from_ is None


def test_fetch_shows_the_latest_status(twilio: Client, fake: FakeTwilio) -> None:
    sent = send_message(twilio, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")
    fake.flush()

    message = twilio.messages(sent.sid).fetch()
    assert message.status == "delivered"
    assert message.date_sent is not None


def test_unknown_message_is_20404(twilio: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio.messages("SM" + "f" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


@pytest.mark.parametrize("wrong", ["token", "account"])
def test_bad_credentials_are_401_with_20003(fake: FakeTwilio, wrong: str) -> None:
    sid = "AC" + "0" * 32 if wrong == "account" else fake.account_sid
    token = "not-the-token" if wrong == "token" else fake.auth_token
    client = make_client(sid, token, fake.base_url)

    with pytest.raises(TwilioRestException) as raised:
        send_message(client, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert classify_error(raised.value) == "permanent"
    assert fake.messages == []
    assert fake.requests[-1].status == 401


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, "transient"),
        (500, 20500, "transient"),
        (503, 20500, "transient"),
        (400, 21610, "permanent"),
        (400, 63016, "permanent"),
        (400, 21211, "permanent"),
    ],
)
def test_scripted_rejections_are_classified(
    twilio: Client, fake: FakeTwilio, status: int, code: int, kind: str
) -> None:
    fake.script(SMS_CUSTOMER, reject=(status, code))

    with pytest.raises(SEND_ERRORS) as raised:
        send_message(twilio, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")

    failure = describe_error(raised.value)
    assert (failure.kind, failure.code, failure.http_status) == (kind, code, status)
    assert classify_error(raised.value) == kind
    assert fake.messages == []


def test_invalid_to_is_rejected_with_21211(twilio: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        send_message(twilio, from_=SMS_SENDER, to="12345", body="hola")

    assert (raised.value.status, raised.value.code) == (400, 21211)
    assert classify_error(raised.value) == "permanent"
    assert "12345" in raised.value.msg


def test_a_rejection_for_some_times_then_acceptance(twilio: Client, fake: FakeTwilio) -> None:
    fake.script(SMS_CUSTOMER, reject=(429, 20429), times=2)

    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(
                send_message(twilio, from_=SMS_SENDER, to=SMS_CUSTOMER, body="x").status
            )
        except TwilioRestException as exc:
            outcomes.append(exc.code)

    assert outcomes == [20429, 20429, "queued"]


def test_connection_refused_is_transient(fake: FakeTwilio) -> None:
    client = make_client(fake.account_sid, fake.auth_token, fake.base_url, timeout=2)
    fake.stop()

    with pytest.raises(SEND_ERRORS) as raised:
        send_message(client, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")

    assert isinstance(raised.value, requests.ConnectionError)
    failure = describe_error(raised.value)
    assert (failure.kind, failure.code, failure.http_status) == ("transient", None, None)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (requests.ReadTimeout("slow"), "transient"),
        (requests.ConnectTimeout("slow"), "transient"),
        (requests.ConnectionError("reset"), "transient"),
        (TwilioRestException(502, "/x", "bad gateway"), "transient"),
        (TwilioRestException(400, "/x", "rate", code=20429), "transient"),
        (TwilioRestException(403, "/x", "forbidden", code=20003), "permanent"),
        (requests.exceptions.InvalidURL("no"), "permanent"),
        (ValueError("a bug"), "permanent"),
    ],
)
def test_classify_error(exc: BaseException, kind: str) -> None:
    assert classify_error(exc) == kind


@pytest.mark.parametrize(
    "text",
    [
        "¡Señor Núñez! Ça va? Ünïcödé àèìòù",
        "Pedido listo 😀👍🏽 🇨🇴 👨‍👩‍👧",
        "مرحبا بك في خدمة العملاء",  # Arabic, right to left
        "שלום, מה שלומך? 123",  # Hebrew mixed with digits
        "línea 1\nlínea 2\ttab",
    ],
)
def test_text_round_trips_intact(twilio: Client, fake: FakeTwilio, text: str) -> None:
    sent = send_message(twilio, from_=WHATSAPP_SENDER, to=WHATSAPP_CUSTOMER, body=text)

    assert twilio.messages(sent.sid).fetch().body == text
    assert fake.message(sent.sid).body == text


def test_media_only_message(twilio: Client, fake: FakeTwilio) -> None:
    urls = ["https://example.com/a.jpg", "https://example.com/b.pdf?x=1&y=ñ"]
    sent = send_message(twilio, from_=SMS_SENDER, to=SMS_CUSTOMER, media_urls=urls)

    resource = twilio.messages(sent.sid).fetch()
    assert resource.num_media == "2" and resource.body == ""
    assert fake.message(sent.sid).media_urls == urls


def test_template_message_sends_content_sid_and_variables(twilio: Client, fake: FakeTwilio) -> None:
    sent = send_message(
        twilio,
        from_=WHATSAPP_SENDER,
        to=WHATSAPP_CUSTOMER,
        content_sid=CONTENT_SID,
        content_variables={"1": "José", "2": "mañana"},
    )

    stored = fake.message(sent.sid)
    assert stored.param("ContentSid") == CONTENT_SID
    assert json.loads(stored.param("ContentVariables") or "") == {"1": "José", "2": "mañana"}


def test_send_message_needs_a_sender(twilio: Client) -> None:
    with pytest.raises(ValueError, match="from_ or messaging_service_sid"):
        send_message(twilio, from_=None, to=SMS_CUSTOMER, body="hola")


def test_region_hosts_are_redirected_too(fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    # TWILIO_REGION makes the library call api.ie1.twilio.com; the base URL still wins.
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    client = make_client(fake.account_sid, fake.auth_token, fake.base_url)

    sent = send_message(client, from_=SMS_SENDER, to=SMS_CUSTOMER, body="hola")

    assert fake.message(sent.sid).to == SMS_CUSTOMER


def test_base_url_path_prefix_is_kept() -> None:
    client = make_client("AC" + "0" * 32, "token", "http://127.0.0.1:9/twilio/")

    rewrite = client.http_client.rewrite
    assert (
        rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5")
        == "http://127.0.0.1:9/twilio/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    )
    assert rewrite("https://lookups.twilio.com/v2/PhoneNumbers/x") == (
        "https://lookups.twilio.com/v2/PhoneNumbers/x"
    )


def test_default_base_url_is_twilio_with_a_timeout() -> None:
    client = make_client("AC" + "0" * 32, "token")

    assert client.api.base_url == "https://api.twilio.com"
    assert not hasattr(client.http_client, "rewrite")
    assert client.http_client.timeout == 15.0
