"""`centralita campaigns`: create campaigns and list them."""

from __future__ import annotations

import click

from centralita.cli.common import admin_session
from centralita.customers.campaigns import (
    DEFAULT_ALERT_AFTER,
    DEFAULT_CLOSE_AFTER,
    DEFAULT_TIMEZONE,
    CampaignError,
    CampaignExists,
    check_slug,
    create_campaign,
    list_campaigns,
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
    help="Close a chat after this long without messages.",
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
def create(
    slug: str,
    name: str,
    alert_after: str,
    close_after: str,
    closing_message: str | None,
    closing_template: str | None,
    timezone: str,
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
    except CampaignExists as exc:
        raise click.ClickException(f"{exc}; `centralita campaigns list` shows them") from None
    except CampaignError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    click.echo(
        f"created campaign {campaign.slug} ({campaign.name}): alert after {alert_after}, "
        f"close after {close_after}, time zone {campaign.timezone}"
    )


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
