"""Sender health: each number's rolling signals, and the risk level they add up to.

`compute_health` measures every sender number over windows ending at `now` (see
health_queries for what counts) and judges each signal against `HealthThresholds`: a signal
past its watch or critical line becomes a reason, and the number's level is the worst of its
reasons. `health_report` is the same as a JSON-ready dict, for the CLI and the API.
Nothing here writes: evaluate_senders (senders.py) stores levels and pauses numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.channels.health_queries import Traffic, codes_of, measure, percentile
from centralita.channels.health_thresholds import CODE_GROUPS, WATCHED_CODES, HealthThresholds
from centralita.core.models import RiskLevel, SenderNumber

_SEVERITY = {RiskLevel.OK: 0, RiskLevel.WATCH: 1, RiskLevel.CRITICAL: 2}
Unit = Literal["count", "share"]


def worst(levels: list[RiskLevel]) -> RiskLevel:
    return max(levels, key=_SEVERITY.__getitem__, default=RiskLevel.OK)


@dataclass(frozen=True)
class Signal:
    """One figure with its lines. `above`: worse when higher (failures); else worse when lower
    (replies). `judged` is False when there is too little traffic for it to mean anything,
    or the line does not apply (no tier for SMS numbers)."""

    key: str
    label: str
    value: float | None
    unit: Unit = "count"
    watch: float | None = None
    critical: float | None = None
    above: bool = True
    judged: bool = True

    def level(self) -> tuple[RiskLevel, float | None]:
        """The level this signal calls for, and the line it crossed."""
        if not self.judged or self.value is None:
            return RiskLevel.OK, None
        for level, line in ((RiskLevel.CRITICAL, self.critical), (RiskLevel.WATCH, self.watch)):
            if line is not None and (self.value >= line if self.above else self.value < line):
                return level, line
        return RiskLevel.OK, None

    def show(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.unit == "share":
            return f"{value:.1%}"
        return f"{value:g}" if value != int(value) else str(int(value))

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": _number(self.value),
            "unit": self.unit,
            "watch": _number(self.watch),
            "critical": _number(self.critical),
            "worse_when": "higher" if self.above else "lower",
            "judged": self.judged,
        }


@dataclass(frozen=True)
class Reason:
    signal: str
    value: float
    threshold: float
    level: RiskLevel
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "value": _number(self.value),
            "threshold": _number(self.threshold),
            "level": self.level.value,
            "text": self.text,
        }


@dataclass(frozen=True)
class SenderHealth:
    address: str
    rate_limit: int
    stored_level: RiskLevel  # as of the last sweep
    paused_at: datetime | None
    traffic: Traffic
    signals: list[Signal]
    reasons: list[Reason]

    @property
    def whatsapp(self) -> bool:
        return self.address.startswith("whatsapp:")

    @property
    def level(self) -> RiskLevel:
        return worst([r.level for r in self.reasons])

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "channel": "whatsapp" if self.whatsapp else "sms",
            "rate_limit": self.rate_limit,
            "level": self.level.value,
            "stored_level": self.stored_level.value,
            "paused": self.paused_at is not None,
            "paused_at": self.paused_at.isoformat() if self.paused_at else None,
            "reasons": [r.to_json() for r in self.reasons],
            "signals": {s.key: s.to_json() for s in self.signals},
            "codes": {code: self.traffic.codes.get(code, 0) for code in WATCHED_CODES},
            "figures": {
                "outbound_24h": self.traffic.outbound,
                "failed_24h": self.traffic.failed,
                "inbound_from_recipients_24h": self.traffic.inbound_from_recipients,
            },
        }


def signals_of(
    traffic: Traffic,
    *,
    whatsapp: bool,
    rate_limit: int,
    portfolio_recipients: int,
    limits: HealthThresholds,
) -> list[Signal]:
    """Every signal of one number with its lines. Business-initiated figures and the tier are
    WhatsApp's (Meta's limit); for SMS they are reported but not judged."""
    t = traffic
    tier = limits.tier or None
    tier_applies = whatsapp and tier is not None
    outbound = t.outbound
    signals = [
        Signal(
            "sent_per_minute",
            "sent in the last minute",
            t.sent_last_minute,
            watch=limits.minute_watch * rate_limit * 60,
        ),
        Signal("sent_per_hour", "sent in the last hour", t.sent_last_hour),
        Signal(
            "business_initiated_per_hour",
            "business-initiated in the last hour",
            t.business_initiated_last_hour,
            watch=limits.hour_watch * tier if tier else None,
            judged=tier_applies,
        ),
        Signal("recipients_24h", "unique recipients (24 h)", t.recipients),
        Signal(
            "business_initiated_recipients_24h",
            "business-initiated recipients (24 h)",
            t.business_initiated_recipients,
        ),
        Signal(
            "portfolio_tier_share",
            "portfolio tier used (all numbers)",
            portfolio_recipients / tier if tier else None,
            unit="share",
            watch=limits.tier_watch,
            critical=limits.tier_critical,
            # A number that starts no conversations is not what exhausts the tier.
            judged=tier_applies and t.business_initiated_recipients > 0,
        ),
        Signal(
            "per_recipient_max",
            "our messages to one customer (24 h, max)",
            max(t.per_recipient, default=0),
            watch=limits.conversation_watch,
        ),
        Signal(
            "per_recipient_p95",
            "our messages to one customer (24 h, p95)",
            percentile(t.per_recipient, 0.95),
        ),
        Signal(
            "business_initiated_per_recipient_max",
            "business-initiated to one customer (24 h, max)",
            max(t.business_initiated_per_recipient, default=0),
            watch=limits.per_recipient_watch,
            judged=whatsapp,
        ),
        Signal(
            "business_initiated_per_recipient_p95",
            "business-initiated to one customer (24 h, p95)",
            percentile(t.business_initiated_per_recipient, 0.95),
            critical=limits.per_recipient_p95_critical,
            judged=whatsapp,
        ),
        Signal(
            "reply_ratio",
            "replies per message sent (24 h)",
            t.inbound_from_recipients / outbound if outbound else None,
            unit="share",
            watch=limits.reply_watch,
            critical=limits.reply_critical,
            above=False,
            judged=outbound >= limits.reply_min_volume,
        ),
        Signal(
            "failure_rate",
            "failed or undelivered (24 h)",
            t.failed / outbound if outbound else None,
            unit="share",
            watch=limits.failure_watch,
            critical=limits.failure_critical,
            judged=outbound >= limits.min_volume,
        ),
    ]
    for group, (watch, critical) in limits.code_limits().items():
        codes = CODE_GROUPS[group]
        signals.append(
            Signal(
                f"codes_{group}",
                f"{group} ({', '.join(codes)}) (24 h)",
                codes_of(codes, t.codes),
                watch=watch,
                critical=critical,
            )
        )
    return signals


def reasons_of(signals: list[Signal]) -> list[Reason]:
    reasons = []
    for signal in signals:
        level, line = signal.level()
        if level is RiskLevel.OK or line is None or signal.value is None:
            continue
        sign = "≥" if signal.above else "<"
        reasons.append(
            Reason(
                signal.key,
                signal.value,
                line,
                level,
                f"{signal.label}: {signal.show(signal.value)} {sign} {signal.show(line)}",
            )
        )
    return sorted(reasons, key=lambda r: -_SEVERITY[r.level])


def compute_health(
    session: Session, now: datetime, limits: HealthThresholds
) -> tuple[list[SenderHealth], int]:
    """Health of every sender number (by address), and the portfolio's business-initiated
    recipients in 24 h (distinct across all WhatsApp numbers, as Meta counts them)."""
    traffic, portfolio = measure(session, now)
    numbers = session.execute(
        select(
            SenderNumber.address,
            SenderNumber.rate_limit,
            SenderNumber.risk_level,
            SenderNumber.paused_at,
        ).order_by(SenderNumber.address)
    ).all()
    result = []
    for address, rate_limit, stored_level, paused_at in numbers:
        figures = traffic.get(address, Traffic())
        signals = signals_of(
            figures,
            whatsapp=address.startswith("whatsapp:"),
            rate_limit=rate_limit,
            portfolio_recipients=portfolio,
            limits=limits,
        )
        result.append(
            SenderHealth(
                address, rate_limit, stored_level, paused_at, figures, signals, reasons_of(signals)
            )
        )
    return result, portfolio


def health_report(
    session: Session, now: datetime, limits: HealthThresholds | None = None
) -> dict[str, Any]:
    """Every number's health as JSON-ready data: what `GET /api/v1/senders/health` answers."""
    limits = limits or HealthThresholds.from_env()
    senders, portfolio = compute_health(session, now, limits)
    tier = limits.tier or None
    return {
        "generated_at": now.isoformat(),
        "portfolio": {
            "business_initiated_recipients_24h": portfolio,
            "tier": tier,
            "tier_share": _number(portfolio / tier) if tier else None,
        },
        "senders": [s.to_json() for s in senders],
        "thresholds": limits.to_json(),
    }


def _number(value: float | None) -> float | int | None:
    """Counts as integers, shares to 4 decimals: readable JSON without float noise."""
    if value is None or isinstance(value, int):
        return value
    return int(value) if value.is_integer() and abs(value) >= 1 else round(value, 4)
