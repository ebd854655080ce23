"""From figures to a level: each rule's watch and critical lines, volume guards, reasons, and
thresholds from the environment. Pure: no database."""

from __future__ import annotations

from collections import Counter

import pytest

from centralita.channels.health import Signal, reasons_of, signals_of, worst
from centralita.channels.health_queries import Traffic, percentile
from centralita.channels.health_thresholds import HealthThresholds
from centralita.core.models import RiskLevel
from centralita.core.settings import SettingsError

DEFAULTS = HealthThresholds()


def _judge(
    traffic: Traffic,
    *,
    whatsapp: bool = True,
    rate_limit: int = 80,
    portfolio: int | None = None,
    limits: HealthThresholds = DEFAULTS,
) -> list[tuple[str, RiskLevel]]:
    signals = signals_of(
        traffic,
        whatsapp=whatsapp,
        rate_limit=rate_limit,
        portfolio_recipients=traffic.business_initiated_recipients
        if portfolio is None
        else portfolio,
        limits=limits,
    )
    return [(r.signal, r.level) for r in reasons_of(signals)]


def _sent(outbound: int, **figures: int) -> Traffic:
    """`outbound` messages, one per recipient, none business-initiated."""
    return Traffic(outbound=outbound, per_recipient=Counter({1: outbound}), **figures)  # type: ignore[arg-type]


WATCH, CRITICAL = RiskLevel.WATCH, RiskLevel.CRITICAL


@pytest.mark.parametrize(
    ("outbound", "failed", "expected"),
    [
        (100, 4, []),
        (100, 5, [("failure_rate", WATCH)]),  # 5%: the watch line itself
        (100, 15, [("failure_rate", CRITICAL)]),
        (19, 19, []),  # all failed, but 19 messages say nothing yet
        (20, 3, [("failure_rate", CRITICAL)]),
    ],
)
def test_failure_rate(outbound: int, failed: int, expected: list[tuple[str, RiskLevel]]) -> None:
    # Replies keep the reply-ratio rule out of the way.
    assert _judge(_sent(outbound, failed=failed, inbound_from_recipients=outbound)) == expected


@pytest.mark.parametrize(
    ("outbound", "replies", "expected"),
    [
        (100, 10, []),
        (100, 9, [("reply_ratio", WATCH)]),
        (99, 0, []),  # below the reply rule's volume
        (1000, 0, [("reply_ratio", WATCH)]),  # never critical by default
    ],
)
def test_reply_ratio(outbound: int, replies: int, expected: list[tuple[str, RiskLevel]]) -> None:
    assert _judge(_sent(outbound, inbound_from_recipients=replies)) == expected
    strict = HealthThresholds(reply_critical=0.01)
    if replies == 0 and outbound >= 100:
        assert _judge(_sent(outbound), limits=strict) == [("reply_ratio", CRITICAL)]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ({"63018": 1}, [("codes_limited", WATCH)]),
        ({"63018": 10}, [("codes_limited", CRITICAL)]),
        ({"30007": 1}, [("codes_filtered", WATCH)]),
        ({"30007": 5}, [("codes_filtered", CRITICAL)]),
        ({"63051": 1}, [("codes_locked", CRITICAL)]),
        ({"63014": 2}, []),
        ({"63014": 2, "21610": 1}, [("codes_blocked", WATCH)]),  # a group adds its codes up
        ({"63014": 12, "21610": 8}, [("codes_blocked", CRITICAL)]),
        ({"63049": 24}, [("codes_withheld", WATCH)]),
        ({"63016": 500}, [("codes_window", WATCH)]),  # configuration: never pauses
        ({"63024": 5, "30005": 5}, [("codes_unreachable", WATCH)]),
        (
            {"63051": 1, "63018": 1, "63014": 3},
            [("codes_locked", CRITICAL), ("codes_blocked", WATCH), ("codes_limited", WATCH)],
        ),
    ],
)
def test_error_codes(codes: dict[str, int], expected: list[tuple[str, RiskLevel]]) -> None:
    assert _judge(Traffic(codes=codes)) == expected


def test_the_tier_counts_for_numbers_that_start_conversations() -> None:
    starting = Traffic(outbound=1, per_recipient=Counter({1: 1}))
    starting.business_initiated_per_recipient[1] = 1
    assert _judge(starting, portfolio=799) == []
    assert _judge(starting, portfolio=800) == [("portfolio_tier_share", WATCH)]
    assert _judge(starting, portfolio=1000) == [("portfolio_tier_share", CRITICAL)]
    # Another number exhausted the tier: this one only answers customers.
    assert _judge(_sent(1), portfolio=1000) == []
    # SMS has no Meta tier.
    assert _judge(starting, portfolio=1000, whatsapp=False) == []
    assert _judge(starting, portfolio=10_000, limits=HealthThresholds(tier=None)) == []


def test_messages_per_customer() -> None:
    one_pushed = Traffic(business_initiated_per_recipient=Counter({1: 99, 3: 1}))
    assert _judge(one_pushed) == [("business_initiated_per_recipient_max", WATCH)]
    # One in ten recipients got three: the campaign's pattern (p95), not one follow-up.
    pattern = Traffic(business_initiated_per_recipient=Counter({1: 90, 3: 10}))
    assert _judge(pattern) == [
        ("business_initiated_per_recipient_p95", CRITICAL),
        ("business_initiated_per_recipient_max", WATCH),
    ]
    assert _judge(pattern, whatsapp=False) == []
    loop = Traffic(per_recipient=Counter({2: 40, 60: 1}))
    assert _judge(loop) == [("per_recipient_max", WATCH)]


def test_pace() -> None:
    assert _judge(Traffic(sent_last_minute=47), rate_limit=1) == []
    assert _judge(Traffic(sent_last_minute=48), rate_limit=1) == [("sent_per_minute", WATCH)]
    assert _judge(Traffic(business_initiated_last_hour=250)) == [
        ("business_initiated_per_hour", WATCH)
    ]
    assert _judge(Traffic(business_initiated_last_hour=10_000), whatsapp=False) == []


def test_reasons_read_as_sentences() -> None:
    traffic = _sent(200, failed=40, inbound_from_recipients=10)
    signals = signals_of(
        traffic, whatsapp=True, rate_limit=80, portfolio_recipients=0, limits=DEFAULTS
    )
    reasons = [r.to_json() for r in reasons_of(signals)]
    assert reasons == [
        {
            "signal": "failure_rate",
            "value": 0.2,
            "threshold": 0.15,
            "level": "critical",
            "text": "failed or undelivered (24 h): 20.0% ≥ 15.0%",
        },
        {
            "signal": "reply_ratio",
            "value": 0.05,
            "threshold": 0.1,
            "level": "watch",
            "text": "replies per message sent (24 h): 5.0% < 10.0%",
        },
    ]
    assert worst([RiskLevel.WATCH, RiskLevel.CRITICAL, RiskLevel.OK]) is CRITICAL
    assert worst([]) is RiskLevel.OK


def test_a_signal_without_lines_never_alarms() -> None:
    assert Signal("sent_per_hour", "sent", 10**9).level() == (RiskLevel.OK, None)
    assert Signal("x", "x", None, watch=1).level() == (RiskLevel.OK, None)
    assert Signal("x", "x", 5, watch=1, judged=False).level() == (RiskLevel.OK, None)


@pytest.mark.parametrize(
    ("histogram", "p95"),
    [
        ({}, 0),
        ({4: 1}, 4),
        ({1: 95, 9: 5}, 1),
        ({1: 94, 9: 6}, 9),
        ({1: 19, 2: 1}, 1),  # rank 19 of 20
        ({1: 56, 7: 4}, 7),  # 0.95 * 60 = 57 exactly: no float drift to 58
    ],
)
def test_percentile_is_nearest_rank(histogram: dict[int, int], p95: int) -> None:
    assert percentile(Counter(histogram), 0.95) == p95


# -- thresholds from the environment ---------------------------------------------------------


def test_thresholds_come_from_sender_health_variables() -> None:
    limits = HealthThresholds.from_env(
        {
            "SENDER_HEALTH_TIER": "10000",
            "SENDER_HEALTH_FAILURE_WATCH": "3%",
            "SENDER_HEALTH_FAILURE_CRITICAL": "0.1",
            "SENDER_HEALTH_REPLY_WATCH": "off",
            "SENDER_HEALTH_BLOCKED_CRITICAL": " 50 ",
            "SENDER_HEALTH_LOCKED_CRITICAL": "",  # blank: unset
            "UNRELATED": "x",
        }
    )
    assert (limits.tier, limits.failure_watch, limits.failure_critical) == (10_000, 0.03, 0.1)
    assert limits.reply_watch is None
    assert limits.blocked_critical == 50
    assert limits.locked_critical == DEFAULTS.locked_critical
    assert HealthThresholds.from_env({"SENDER_HEALTH_TIER": "unlimited"}).tier is None
    assert HealthThresholds.from_env({}) == DEFAULTS


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SENDER_HEALTH_TIER", "mil", "'mil' is not a number"),
        ("SENDER_HEALTH_FAILURE_WATCH", "-1", "'-1' is negative"),
        ("SENDER_HEALTH_MIN_VOLUME", "2.5", "'2.5' is not a number"),
        ("SENDER_HEALTH_MIN_VOLUME", "off", "'off' is not allowed here"),
    ],
)
def test_a_bad_threshold_names_its_variable(variable: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        HealthThresholds.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: {problem}. ")


def test_every_threshold_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "sender-health.md").read_text(encoding="utf-8")
    for name in DEFAULTS.to_json():
        assert f"SENDER_HEALTH_{name.upper()}" in doc, name
