"""Each signal's value from realistic traffic, on SQLite and PostgreSQL: windows, what counts
as sent, business-initiated or failed, and codes from messages and status callbacks."""

from __future__ import annotations

from typing import Any

import pytest

from centralita.channels.health import health_report
from centralita.channels.health_thresholds import WATCHED_CODES, HealthThresholds
from centralita.core.models import MessageStatus
from centralita.core.runtime import Runtime

from .conftest import N1, N2, NOW, SMS, Scene, ago


def _report(rt: Runtime, limits: HealthThresholds | None = None) -> dict[str, Any]:
    with rt.sessions() as session:
        return health_report(session, NOW, limits or HealthThresholds())


def _values(sender: dict[str, Any]) -> dict[str, Any]:
    return {key: signal["value"] for key, signal in sender["signals"].items()}


@pytest.fixture
def traffic(scene: Scene) -> Scene:
    """A day on N1, one customer per case (each comment says how it must count)."""
    for number in (N1, N2, SMS):
        scene.number(number)

    def chat() -> int:
        return scene.chat(N1, scene.customer())

    # ana wrote two hours ago and we answered twice: replies, not business-initiated.
    ana = chat()
    scene.inbound(ana, ago(hours=2))
    scene.outbound(ana, ago(hours=2, minutes=-1))
    scene.outbound(ana, ago(hours=2, minutes=-1, seconds=-5))
    # beto got two templates (5 h and 30 s ago) and answered the second one.
    beto_contact = scene.customer()
    beto = scene.chat(N1, beto_contact)
    scene.outbound(beto, ago(hours=5))
    scene.outbound(beto, ago(seconds=30), status=MessageStatus.SENT)
    scene.inbound(beto, ago(seconds=10))
    # carla wrote 30 h ago (before the window: not counted as a reply), and 10 h ago we
    # answered inside her 24-hour window: not business-initiated.
    carla = chat()
    scene.inbound(carla, ago(hours=30))
    scene.outbound(carla, ago(hours=10), status=MessageStatus.READ)
    # dario wrote 50 h ago; 20 h ago his window was closed: business-initiated.
    dario = chat()
    scene.inbound(dario, ago(hours=50))
    scene.outbound(dario, ago(hours=20))
    # eva's message waited three days (a paused sender) and left 20 minutes ago: it counts
    # when it was sent.
    eva = chat()
    scene.outbound(eva, ago(minutes=20), created=ago(hours=72))
    # fede: Twilio's API refused the send (21610): outbound and failed, never business-
    # initiated (nothing reached him).
    fede = chat()
    scene.outbound(fede, None, created=ago(hours=3), status=MessageStatus.FAILED, code="21610")
    # gabi: Centralita failed it itself (no template, 63016), never reaching Twilio: ignored.
    gabi = chat()
    scene.outbound(
        gabi, None, created=ago(hours=1), status=MessageStatus.FAILED, code="63016", attempts=0
    )
    # hugo: held for a paused sender, still in the outbox: ignored.
    hugo = chat()
    scene.outbound(
        hugo,
        None,
        created=ago(hours=1),
        status=MessageStatus.PENDING,
        attempts=0,
        hold_reason="sender_paused",
    )
    # ines got ours 25 h ago (outside the window) and wrote an hour ago: she is no recipient
    # today, so her message is no reply.
    ines = chat()
    scene.outbound(ines, ago(hours=25))
    scene.inbound(ines, ago(hours=1))
    # juan read ours, then a later callback reported a block (63014): the code counts though
    # the status stayed `read`.
    juan = chat()
    read = scene.outbound(juan, ago(hours=6), status=MessageStatus.READ)
    scene.event(read, "read", ago(hours=6, seconds=-3))
    scene.event(read, "undelivered", ago(hours=1), "63014")
    # kike: undelivered with 63024, the callback repeated: one message with 63024.
    kike = chat()
    bad = scene.outbound(kike, ago(hours=4), status=MessageStatus.UNDELIVERED, code="63024")
    scene.event(bad, "undelivered", ago(hours=4, seconds=-1), "63024")
    scene.event(bad, "undelivered", ago(hours=4, seconds=-9), "63024")
    # lola: a 30007 of yesterday, outside the window.
    lola = chat()
    old = scene.outbound(lola, ago(hours=26), status=MessageStatus.FAILED, code="30007")
    scene.event(old, "failed", ago(hours=26, seconds=-1), "30007")

    # N2 wrote to beto too (the portfolio counts him once) and to mara.
    scene.outbound(scene.chat(N2, beto_contact), ago(hours=2))
    scene.outbound(scene.chat(N2, scene.customer()), ago(hours=2))
    # The SMS number sent one message: no business-initiated concept, no tier.
    scene.outbound(scene.chat(SMS, scene.customer(whatsapp=False)), ago(hours=1))
    return scene


def test_each_signal_of_a_days_traffic(rt: Runtime, traffic: Scene) -> None:
    report = _report(rt)
    senders = {s["address"]: s for s in report["senders"]}
    assert list(senders) == [SMS, N1, N2]
    n1 = senders[N1]
    # outbound: ana 2, beto 2, carla, dario, eva, fede, juan, kike
    assert n1["figures"] == {
        "outbound_24h": 10,
        "failed_24h": 2,  # fede (refused by the API), kike (undelivered)
        "inbound_from_recipients_24h": 2,  # ana's and beto's
    }
    assert _values(n1) == {
        "sent_per_minute": 1,  # beto's second template
        "sent_per_hour": 2,  # ... and eva's late one
        "business_initiated_per_hour": 2,
        "recipients_24h": 8,
        "business_initiated_recipients_24h": 5,  # beto, dario, eva, juan, kike
        "portfolio_tier_share": 0.006,  # 6 of 1000: N2 adds mara only
        "per_recipient_max": 2,
        "per_recipient_p95": 2,  # 8 recipients: the 8th smallest
        "business_initiated_per_recipient_max": 2,
        "business_initiated_per_recipient_p95": 2,
        "reply_ratio": 0.2,
        "failure_rate": 0.2,
        "codes_blocked": 2,  # juan's 63014, fede's 21610
        "codes_filtered": 0,  # lola's 30007 is a day old
        "codes_withheld": 0,
        "codes_limited": 0,
        "codes_locked": 0,
        "codes_window": 0,  # gabi's 63016 never reached Twilio
        "codes_unreachable": 1,  # kike, once however many callbacks
    }
    assert {code: n for code, n in n1["codes"].items() if n} == {
        "21610": 1,
        "63014": 1,
        "63024": 1,
    }
    assert list(n1["codes"]) == list(WATCHED_CODES)
    assert report["portfolio"] == {
        "business_initiated_recipients_24h": 6,
        "tier": 1000,
        "tier_share": 0.006,
    }
    # Too little traffic to judge rates (10 < 20 outbound): nothing crosses a line.
    assert (n1["level"], n1["reasons"]) == ("ok", [])
    assert not n1["signals"]["failure_rate"]["judged"]

    n2 = _values(senders[N2])
    assert (n2["recipients_24h"], n2["business_initiated_recipients_24h"]) == (2, 2)
    sms = senders[SMS]
    assert sms["channel"] == "sms"
    assert _values(sms)["recipients_24h"] == 1
    assert not sms["signals"]["business_initiated_per_recipient_max"]["judged"]
    assert not sms["signals"]["portfolio_tier_share"]["judged"]


def test_the_tier_is_the_portfolios_and_a_setting(rt: Runtime, traffic: Scene) -> None:
    report = _report(rt, HealthThresholds(tier=5))
    assert report["portfolio"]["tier_share"] == 1.2
    n1 = next(s for s in report["senders"] if s["address"] == N1)
    assert n1["level"] == "critical"
    assert n1["reasons"] == [
        {
            "signal": "portfolio_tier_share",
            "value": 1.2,
            "threshold": 1,
            "level": "critical",
            "text": "portfolio tier used (all numbers): 120.0% ≥ 100.0%",
        },
        {
            "signal": "business_initiated_per_hour",
            "value": 2,
            "threshold": 1.25,
            "level": "watch",
            "text": "business-initiated in the last hour: 2 ≥ 1.25",
        },
    ]
    unlimited = _report(rt, HealthThresholds(tier=None))
    assert unlimited["portfolio"]["tier_share"] is None
    assert next(s for s in unlimited["senders"] if s["address"] == N1)["level"] == "ok"


def test_a_quiet_number_has_zeros_and_no_ratios(rt: Runtime, scene: Scene) -> None:
    scene.number(N1)
    (sender,) = _report(rt)["senders"]
    values = _values(sender)
    assert values["recipients_24h"] == 0
    assert values["per_recipient_p95"] == 0
    assert values["reply_ratio"] is None
    assert values["failure_rate"] is None
    assert sender["level"] == "ok"
