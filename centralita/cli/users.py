"""`centralita users` and `centralita tokens`: the people who log in, and API tokens."""

from __future__ import annotations

import click
from sqlalchemy import select

from centralita.cli.common import admin_session
from centralita.core.models import Campaign, Role, User, utcnow
from centralita.routing.errors import InvalidRequest
from centralita.routing.users import create_token, create_user, generate_password


def register(group: click.Group) -> None:
    group.add_command(users)
    group.add_command(tokens)


@click.group()
def users() -> None:
    """Agents, supervisors and admins."""


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Their name, as colleagues see it.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="agent: answers chats; supervisor: watches and reassigns in their campaigns; "
    "admin: everything.",
)
@click.option(
    "--campaign",
    "campaign_slugs",
    multiple=True,
    help="A campaign they belong to (repeat for more).",
)
@click.option(
    "--capacity",
    type=int,
    default=5,
    show_default=True,
    help="Open chats at once, counting every campaign.",
)
@click.option(
    "--weight",
    type=int,
    default=1,
    show_default=True,
    help="Share of chats under least-load routing (2: twice as many as weight 1).",
)
@click.option("--password", help="Their password (none: one is generated and printed once).")
def create(
    email: str,
    name: str,
    role: str,
    campaign_slugs: tuple[str, ...],
    capacity: int,
    weight: int,
    password: str | None,
) -> None:
    """Add a user."""
    if capacity < 1:
        raise click.BadParameter(f"{capacity} is less than 1", param_hint="--capacity")
    if weight < 1:
        raise click.BadParameter(f"{weight} is less than 1", param_hint="--weight")
    generated = password is None
    if password is None:
        password = generate_password()
    with admin_session() as session:
        campaigns = []
        for slug in dict.fromkeys(campaign_slugs):
            campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
            if campaign is None:
                raise click.BadParameter(
                    f"no campaign {slug!r}; create it with `centralita campaigns create`",
                    param_hint="--campaign",
                )
            campaigns.append(campaign)
        try:
            user = create_user(
                session,
                email,
                name=name,
                role=role,
                password=password,
                campaigns=campaigns,
                capacity=capacity,
                weight=weight,
            )
        except InvalidRequest as exc:
            raise click.ClickException(str(exc)) from None
        served = ", ".join(sorted(c.slug for c in campaigns)) or "no campaigns"
        summary = f"created {user.role} {user.email} ({user.name}): {served}"
        if user.role == Role.AGENT:
            summary += f", capacity {user.capacity}, weight {user.weight}"
    click.echo(summary)
    if generated:
        click.echo(f"password (shown once): {password}")


@click.group()
def tokens() -> None:
    """API tokens (`Authorization: Bearer TOKEN`)."""


@tokens.command("create")
@click.argument("email")
def create_api_token(email: str) -> None:
    """Print a new API token for the user, alone on the last line (shown once)."""
    with admin_session() as session:
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise click.ClickException(f"no user {email}; add one with `centralita users create`")
        if not user.active:
            raise click.ClickException(f"{user.email} is deactivated")
        token = create_token(session, user, utcnow())
    click.echo(f"new API token for {user.email} ({user.role}); it is not stored, keep it:")
    click.echo(token)
