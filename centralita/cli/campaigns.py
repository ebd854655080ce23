"""`centralita campaigns`: create campaigns, change their settings, list them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click
from sqlalchemy import select

from centralita.cli.common import admin_session
from centralita.core.models import AssignmentPolicy, Campaign
from centralita.customers.campaigns import (
    DEFAULT_ALERT_AFTER,
    DEFAULT_CLOSE_AFTER,
    DEFAULT_TIMEZONE,
    CampaignError,
    CampaignExists,
    CampaignSettings,
    campaign_settings,
    check_slug,
    create_campaign,
    list_campaigns,
    update_campaign,
)

F = TypeVar("F", bound=Callable[..., Any])
NEVER = "never"  # --reassign-after never: chats are not reassigned for silence


def routing_options(command: F) -> F:
    """The router's settings, shared by `create` and `update` (unset: left as they are)."""
    for option in reversed(
        [
            click.option(
                "--assignment-policy",
                type=click.Choice([p.value for p in AssignmentPolicy]),
                help="How the router picks among eligible agents: least_load (lowest "
                "open/capacity by weight; the default) or round_robin.",
            ),
            click.option(
                "--manual-assignment/--no-manual-assignment",
                default=None,
                help="Whether supervisors may also give waiting chats to agents by hand "
                "(off by default).",
            ),
            click.option(
                "--max-assignments-per-minute",
                type=int,
                metavar="N",
                help="At most N chats per agent per minute from the router (default 6), so "
                "the first agent to sign in does not receive the whole queue.",
            ),
            click.option(
                "--reassign-after",
                metavar="DURATION",
                help="Give a chat to another eligible agent when its agent has not answered "
                f"for this long (5m, 1h); '{NEVER}' (the default) turns it off.",
            ),
        ]
    ):
        command = option(command)
    return command


def _with_routing(
    settings: CampaignSettings,
    assignment_policy: str | None,
    manual_assignment: bool | None,
    max_assignments_per_minute: int | None,
    reassign_after: str | None,
) -> CampaignSettings:
    """`settings` with the routing options that were given."""
    changes: dict[str, Any] = {}
    if assignment_policy is not None:
        changes["assignment_policy"] = assignment_policy
    if manual_assignment is not None:
        changes["manual_assignment"] = manual_assignment
    if max_assignments_per_minute is not None:
        changes["max_assignments_per_minute"] = max_assignments_per_minute
    if reassign_after is not None:
        never = reassign_after.strip().lower() == NEVER
        changes["reassign_after"] = None if never else reassign_after
    return replace(settings, **changes)


def _routing_line(campaign: Campaign) -> str:
    reassign = campaign_settings(campaign).reassign_after
    return (
        f"routing: {campaign.assignment_policy}, manual assignment "
        f"{'on' if campaign.manual_assignment else 'off'}, at most "
        f"{campaign.max_assignments_per_minute} chats per agent per minute, "
        + ("no reassignment for silence" if reassign is None else f"reassign after {reassign}")
    )


def register(group: click.Group) -> None:
    group.add_command(campaigns)


@click.group()
def campaigns() -> None:
    """Campaigns: a customer database, the agents who serve it, and its timers."""


@campaigns.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The campaign's name, for people.")
@click.option(
    "--alert-after",
    default=DEFAULT_ALERT_AFTER,
    show_default=True,
    help="Alert when a customer waits this long for an agent's answer (30s, 15m, 2h, 1d).",
)
@click.option(
    "--close-after",
    default=DEFAULT_CLOSE_AFTER,
    show_default=True,
    help="Close a chat this long after it opened (silence never closes it earlier).",
)
@click.option("--closing-message", help="Sent to the customer when a chat is closed.")
@click.option(
    "--closing-template",
    metavar="CONTENT_SID",
    help="Approved template (HX...) for the closing message once WhatsApp's 24-hour "
    "window is closed.",
)
@click.option(
    "--timezone",
    default=DEFAULT_TIMEZONE,
    show_default=True,
    help="IANA time zone for the campaign's dates and hours.",
)
@routing_options
def create(
    slug: str,
    name: str,
    alert_after: str,
    close_after: str,
    closing_message: str | None,
    closing_template: str | None,
    timezone: str,
    assignment_policy: str | None,
    manual_assignment: bool | None,
    max_assignments_per_minute: int | None,
    reassign_after: str | None,
) -> None:
    """Create campaign SLUG (lower-case letters, digits, '-' and '_')."""
    try:
        check_slug(slug)  # before connecting: a typo needs no database
        with admin_session() as session:
            campaign = create_campaign(
                session,
                slug,
                name,
                alert_after=alert_after,
                close_after=close_after,
                closing_message=closing_message,
                closing_template=closing_template,
                timezone=timezone,
            )
            # Checked like an update: a bad value rolls the whole creation back.
            wanted = _with_routing(
                campaign_settings(campaign),
                assignment_policy,
                manual_assignment,
                max_assignments_per_minute,
                reassign_after,
            )
            update_campaign(campaign, wanted)
            routing = _routing_line(campaign)
    except CampaignExists as exc:
        raise click.ClickException(f"{exc}; `centralita campaigns list` shows them") from None
    except CampaignError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    click.echo(
        f"created campaign {campaign.slug} ({campaign.name}): alert after {alert_after}, "
        f"close after {close_after}, time zone {campaign.timezone}"
    )
    click.echo(routing)


@campaigns.command("update")
@click.argument("slug")
@click.option("--name", help="The campaign's name, for people.")
@click.option("--alert-after", metavar="DURATION", help="Alert after (30s, 15m, 2h, 1d).")
@click.option("--close-after", metavar="DURATION", help="Close a chat this long after it opened.")
@click.option("--closing-message", help="Sent to the customer when a chat is closed.")
@click.option("--closing-template", metavar="CONTENT_SID", help="Approved template (HX...).")
@click.option("--timezone", help="IANA time zone for the campaign's dates and hours.")
@click.option("--active/--inactive", default=None, help="An inactive campaign takes no chats.")
@routing_options
def update(
    slug: str,
    name: str | None,
    alert_after: str | None,
    close_after: str | None,
    closing_message: str | None,
    closing_template: str | None,
    timezone: str | None,
    active: bool | None,
    assignment_policy: str | None,
    manual_assignment: bool | None,
    max_assignments_per_minute: int | None,
    reassign_after: str | None,
) -> None:
    """Change the settings of campaign SLUG; the options not given stay as they are."""
    given: dict[str, Any] = {
        "name": name,
        "alert_after": alert_after,
        "close_after": close_after,
        "closing_message": closing_message,
        "closing_template": closing_template,
        "timezone": timezone,
        "active": active,
    }
    try:
        with admin_session() as session:
            campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
            if campaign is None:
                raise click.ClickException(
                    f"no campaign {slug!r}; `centralita campaigns list` shows them"
                )
            wanted = replace(
                campaign_settings(campaign), **{k: v for k, v in given.items() if v is not None}
            )
            wanted = _with_routing(
                wanted, assignment_policy, manual_assignment, max_assignments_per_minute,
                reassign_after,
            )  # fmt: skip
            update_campaign(campaign, wanted)
            now = campaign_settings(campaign)
            routing = _routing_line(campaign)
    except CampaignError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    click.echo(
        f"updated campaign {slug} ({now.name}): alert after {now.alert_after}, close after "
        f"{now.close_after}, time zone {now.timezone}{'' if now.active else ', INACTIVE'}"
    )
    click.echo(routing)


@campaigns.command("list")
def list_command() -> None:
    """The campaigns, their settings and how many customers each has."""
    with admin_session() as session:
        rows = list_campaigns(session)
    for row in rows:
        inactive = "  INACTIVE" if not row.active else ""
        click.echo(
            f"{row.slug}\t{row.name}\t{row.customers} customers\talert {row.alert_after}\t"
            f"close {row.close_after}\t{row.timezone}{inactive}"
        )
    if not rows:
        click.echo("no campaigns yet: create one with `centralita campaigns create`", err=True)
