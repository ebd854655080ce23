"""`centralita senders`: each sender number's health and spam risk, and resuming a paused one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from centralita.channels.health import health_report
from centralita.channels.health_thresholds import HealthThresholds
from centralita.channels.senders import UnknownSender, resume_sender
from centralita.cli.common import admin_session, parse_now
from centralita.core.settings import SettingsError

LEVEL_COLORS = {"ok": "green", "watch": "yellow", "critical": "red"}


def register(group: click.Group) -> None:
    group.add_command(senders)


@click.group()
def senders() -> None:
    """Sender numbers' health: rolling signals, risk level, pausing."""


@senders.command("health")
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--now", "now_text", default=None, help="Measure as of this ISO 8601 time (default: now)."
)
def health(output: str, now_text: str | None) -> None:
    """Each number's signals over the last minute, hour and day, and its risk level.

    The level shown is computed now; the sweep stores it, alerts on changes and pauses
    numbers that turn critical. Thresholds: SENDER_HEALTH_* (docs/sender-health.md)."""
    now = parse_now(now_text)
    try:
        limits = HealthThresholds.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    with admin_session() as session:
        report = health_report(session, now, limits)
    if output == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if not report["senders"]:
        click.echo("no numbers yet: add one with `centralita numbers add`", err=True)
        return
    for sender in report["senders"]:
        _print_sender(sender)
    click.echo(_portfolio_line(report["portfolio"]))


@senders.command("resume")
@click.argument("address")
def resume(address: str) -> None:
    """Resume business-initiated sending from a paused number.

    Messages held while it was paused go back to the outbox; the next sweep (the worker's,
    or `centralita sweep`) sends them. Fix what made it critical first."""
    with admin_session() as session:
        try:
            result = resume_sender(session, address, datetime.now(UTC))
        except UnknownSender as exc:
            raise click.ClickException(str(exc)) from None
    if result.paused_at is None:
        click.echo(f"{address} was not paused", err=True)
    else:
        click.echo(f"resumed {address} (paused since {result.paused_at.isoformat()})")
    click.echo(f"{result.released} held message(s) back in the outbox, sent by the next sweep")


def _print_sender(sender: dict[str, Any]) -> None:
    level = sender["level"]
    title = click.style(level.upper(), fg=LEVEL_COLORS[level], bold=True)
    paused = f"  PAUSED since {sender['paused_at']}" if sender["paused"] else ""
    stored = sender["stored_level"]
    note = f"  (last sweep: {stored})" if stored != level else ""
    click.echo(f"{sender['address']}  {title}{paused}{note}")
    rows = [("signal", "value", "watch", "critical")]
    for signal in sender["signals"].values():
        sign = "≥ " if signal["worse_when"] == "higher" else "< "
        rows.append(
            (
                signal["label"] + ("" if signal["judged"] else " (not judged)"),
                _show(signal["value"], signal["unit"]),
                _line(signal["watch"], signal["unit"], sign),
                _line(signal["critical"], signal["unit"], sign),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        label, *figures = row
        cells = [label.ljust(widths[0])] + [
            f.rjust(w) for f, w in zip(figures, widths[1:], strict=True)
        ]
        click.echo("  " + "  ".join(cells).rstrip())
    codes = ", ".join(f"{code}: {n}" for code, n in sender["codes"].items() if n)
    click.echo(f"  error codes (24 h): {codes or 'none'}")
    if sender["reasons"]:
        click.echo("  reasons:")
        for reason in sender["reasons"]:
            mark = click.style(f"{reason['level']:<8}", fg=LEVEL_COLORS[reason["level"]])
            click.echo(f"    {mark} {reason['text']}")
    click.echo()


def _portfolio_line(portfolio: dict[str, Any]) -> str:
    reached = portfolio["business_initiated_recipients_24h"]
    if portfolio["tier"] is None:
        return f"portfolio: {reached} business-initiated recipients in 24 h (no tier set)"
    share = _show(portfolio["tier_share"], "share")
    return (
        f"portfolio: {reached} business-initiated recipients in 24 h, {share} of the "
        f"{portfolio['tier']} tier (SENDER_HEALTH_TIER)"
    )


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "share":
        return f"{value:.1%}"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _line(value: float | None, unit: str, sign: str) -> str:
    return "" if value is None else sign + _show(value, unit)
