"""`centralita numbers`: our sender numbers, the flow that answers each, its campaigns."""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy import select

from centralita.bot.loader import load_paths
from centralita.channels.inbound import is_address
from centralita.cli.common import admin_session
from centralita.core.models import Campaign, SenderNumber


def register(group: click.Group) -> None:
    group.add_command(numbers)


@click.group()
def numbers() -> None:
    """Sender numbers: `whatsapp:+E164` for WhatsApp, `+E164` for SMS."""


@numbers.command("add")
@click.argument("address")
@click.option("--flow", "flow_id", required=True, help="The flow that greets whoever writes.")
@click.option(
    "--campaign",
    "campaign_slugs",
    multiple=True,
    help="A campaign this number serves (repeat for more; none: all). Lookups only search these.",
)
@click.option(
    "--fallback-template",
    help="Approved template (ContentSid) for messages sent "
    "when WhatsApp's 24-hour window is closed; its {{1}} gets the text.",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(1, 1000),
    default=None,
    help="Messages per second from this number (default 80).",
)
def add(
    address: str,
    flow_id: str,
    campaign_slugs: tuple[str, ...],
    fallback_template: str | None,
    rate_limit: int | None,
) -> None:
    """Add a number, or change the flow and campaigns of one already added."""
    if not is_address(address):
        raise click.BadParameter(
            f"{address!r} is not whatsapp:+E164 (e.g. whatsapp:+5716001234) or +E164 for SMS",
            param_hint="ADDRESS",
        )
    flows, _, _ = load_paths([Path(os.environ.get("FLOWS_DIR") or "flows")])
    if flows.current(flow_id) is None:
        known = ", ".join(sorted(flows.flows)) or "none"
        raise click.BadParameter(
            f"no valid flow {flow_id!r} in FLOWS_DIR (valid flows: {known}); "
            "`centralita validate` shows what is wrong",
            param_hint="--flow",
        )
    with admin_session() as session:
        campaigns = []
        for slug in campaign_slugs:
            campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
            if campaign is None:
                raise click.BadParameter(
                    f"no campaign {slug!r}; create it with `centralita campaigns create`",
                    param_hint="--campaign",
                )
            campaigns.append(campaign)
        number = session.scalar(select(SenderNumber).where(SenderNumber.address == address))
        verb = "updated" if number is not None else "added"
        if number is None:
            number = SenderNumber(address=address, flow_id=flow_id)
            session.add(number)
        number.flow_id = flow_id
        number.campaigns = campaigns
        if fallback_template is not None:
            number.fallback_template_sid = fallback_template
        if rate_limit is not None:
            number.rate_limit = rate_limit
        served = ", ".join(c.slug for c in campaigns) or "all campaigns"
    click.echo(f"{verb} {address}: flow {flow_id}, serves {served}")


@numbers.command("list")
def list_numbers() -> None:
    """The numbers, their flows and campaigns."""
    with admin_session() as session:
        rows = session.scalars(select(SenderNumber).order_by(SenderNumber.address)).all()
        for number in rows:
            served = ", ".join(c.slug for c in number.campaigns) or "all campaigns"
            paused = "  PAUSED" if number.paused_at else ""
            click.echo(
                f"{number.address}\tflow {number.flow_id}\t{served}\t{number.risk_level}{paused}"
            )
        if not rows:
            click.echo("no numbers yet: add one with `centralita numbers add`", err=True)
