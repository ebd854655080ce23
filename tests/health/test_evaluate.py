"""evaluate_senders through a day of trouble: levels stored with their reasons, one alert per
change however many sweeps run, a pause on entering critical that only an admin lifts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from centralita.channels.senders import LevelChange, evaluate_senders, resume_sender
from centralita.core.models import Alert, RiskLevel, SenderNumber
from centralita.core.runtime import Runtime
from centralita.core.sweep import sweep

from .conftest import N1, N2, NOW, Scene, ago

OK, WATCH, CRITICAL = RiskLevel.OK, RiskLevel.WATCH, RiskLevel.CRITICAL


def _number(rt: Runtime, address: str = N1) -> SenderNumber:
    with rt.sessions() as session:
        number = session.scalar(select(SenderNumber).where(SenderNumber.address == address))
        assert number is not None
        return number


def _alerts(rt: Runtime) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    with rt.sessions() as session:
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
        return [(a.kind, a.number, a.details) for a in alerts]


def test_levels_alerts_and_the_pause_through_a_bad_day(rt: Runtime, scene: Scene) -> None:
    scene.number(N1)
    scene.number(N2)
    assert evaluate_senders(rt, NOW) == []  # a quiet number stays ok: nothing to report

    # Three customers block the campaign: watch.
    for minutes in (50, 40, 30):
        scene.blocked(N1, ago(minutes=minutes))
    assert evaluate_senders(rt, NOW) == [LevelChange(N1, OK, WATCH, paused=False)]
    number = _number(rt)
    assert (number.risk_level, number.paused_at) == (WATCH, None)
    assert number.risk_reasons == [
        {
            "signal": "codes_blocked",
            "value": 3,
            "threshold": 3,
            "level": "watch",
            "text": "blocked (63014, 21610) (24 h): 3 ≥ 3",
        }
    ]
    (alert,) = _alerts(rt)
    assert alert[:2] == ("sender_risk", N1)
    assert alert[2] == {
        "from": "ok",
        "to": "watch",
        "paused": False,
        "reasons": number.risk_reasons,
    }

    # Sweep after sweep with no change: no new alert.
    for seconds in (30, 60, 90):
        assert evaluate_senders(rt, NOW + timedelta(seconds=seconds)) == []
    assert len(_alerts(rt)) == 1

    # The account gets locked: critical, and the number pauses.
    scene.blocked(N1, ago(minutes=1), code="63051")
    later = NOW + timedelta(minutes=2)
    assert evaluate_senders(rt, later) == [LevelChange(N1, WATCH, CRITICAL, paused=True)]
    number = _number(rt)
    assert (number.risk_level, number.paused_at) == (CRITICAL, later)
    assert [r["signal"] for r in number.risk_reasons or []] == ["codes_locked", "codes_blocked"]
    assert _alerts(rt)[-1][2] == {
        "from": "watch",
        "to": "critical",
        "paused": True,
        "reasons": number.risk_reasons,
    }
    assert [s.to for s in _changes(rt, NOW + timedelta(minutes=3))] == []
    assert len(_alerts(rt)) == 2
    assert _number(rt, N2).risk_level is OK  # the other number is not touched

    # A day later the signals have rolled out of the window: ok again, but still paused.
    tomorrow = NOW + timedelta(hours=25)
    assert evaluate_senders(rt, tomorrow) == [LevelChange(N1, CRITICAL, OK, paused=False)]
    number = _number(rt)
    assert (number.risk_level, number.paused_at, number.risk_reasons) == (OK, later, [])
    assert [a[2]["to"] for a in _alerts(rt) if a[2]] == ["watch", "critical", "ok"]

    # Only an admin resumes it.
    with rt.sessions.begin() as session:
        resumed = resume_sender(session, N1, tomorrow)
    assert (resumed.paused_at, resumed.released) == (later, 0)
    assert _number(rt).paused_at is None


def _changes(rt: Runtime, at: Any) -> list[Any]:
    return [(c.before, c.after) for c in evaluate_senders(rt, at)]


def test_a_number_resumed_while_critical_stays_resumed_until_it_enters_critical_again(
    rt: Runtime, scene: Scene
) -> None:
    scene.number(N1)
    scene.blocked(N1, ago(minutes=5), code="63051")
    evaluate_senders(rt, NOW)
    with rt.sessions.begin() as session:
        resume_sender(session, N1, NOW)
    # Still critical (the lock is in the last 24 hours), but the admin has decided.
    assert evaluate_senders(rt, NOW + timedelta(minutes=1)) == []
    assert _number(rt).paused_at is None
    # It recovers, then relapses: that is a new entry into critical, and pauses again.
    assert _changes(rt, NOW + timedelta(hours=25)) == [(CRITICAL, OK)]
    scene.blocked(N1, NOW + timedelta(hours=26), code="63051")
    relapse = NOW + timedelta(hours=26, minutes=1)
    assert evaluate_senders(rt, relapse) == [LevelChange(N1, OK, CRITICAL, paused=True)]
    assert _number(rt).paused_at == relapse


def test_a_level_flapping_within_minutes_is_alerted_once(rt: Runtime, scene: Scene) -> None:
    scene.number(N1)
    scene.blocked(N1, ago(hours=23, minutes=59, seconds=30), code="63018")
    assert _changes(rt, NOW) == [(OK, WATCH)]
    assert _changes(rt, NOW + timedelta(minutes=1)) == [(WATCH, OK)]  # the 63018 rolled out
    scene.blocked(N1, NOW + timedelta(minutes=1, seconds=30), code="63018")
    assert _changes(rt, NOW + timedelta(minutes=2)) == [(OK, WATCH)]
    # Three changes, but the second `watch` fell in the same 10-minute bucket as the first.
    assert [a[2]["to"] for a in _alerts(rt) if a[2]] == ["watch", "ok"]


def test_the_sweep_evaluates_senders(rt: Runtime, scene: Scene) -> None:
    scene.number(N1)
    scene.blocked(N1, ago(minutes=5), code="30007")
    report = sweep(rt, NOW)
    assert report.senders_changed == 1
    assert "sender risk levels changed: 1" in report.lines()
    assert sweep(rt, NOW + timedelta(seconds=30)).senders_changed == 0
    assert _number(rt).risk_level is WATCH
