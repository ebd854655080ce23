"""Database commands."""

from __future__ import annotations

import click
from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError

from centralita.cli.common import admin_session
from centralita.core.migrate import MigrationError, upgrade
from centralita.core.open_chats import drifted, recount
from centralita.core.settings import SettingsError, database_url_from_env, redact_url


def register(group: click.Group) -> None:
    group.add_command(db)


@click.group()
def db() -> None:
    """Create and migrate the database (DATABASE_URL)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to reach.")
def upgrade_command(revision: str) -> None:
    """Create the schema, or migrate it to the latest revision. Safe to run repeatedly."""
    try:
        url = database_url_from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        result = upgrade(url, revision)
    except DBAPIError as exc:
        raise click.ClickException(
            f"cannot use the database at {redact_url(url)}: {_first_line(exc.orig)}"
        ) from None
    except (CommandError, MigrationError) as exc:
        raise click.ClickException(f"{redact_url(url)}: {_first_line(exc)}") from None
    if result.changed:
        click.echo(
            f"{result.url}: upgraded from {result.before or 'an empty database'} "
            f"to revision {result.after}"
        )
    else:
        click.echo(f"{result.url}: already at revision {result.after}, nothing to do")


@db.command("recount-loads")
@click.option("--check", is_flag=True, help="Only report: change nothing, exit 1 if any drifted.")
def recount_loads_command(check: bool) -> None:
    """Check every agent's open-chat counter against their open chats, and fix any that
    drifted (only possible if the database's triggers were bypassed). Safe while serving:
    it holds the people's rows for the moment of the count."""
    with admin_session() as session:
        wrong = drifted(session) if check else recount(session)
    for drift in wrong:
        click.echo(
            f"{drift.email}: counter said {drift.counter}, open chats {drift.actual}"
            + ("" if check else " (fixed)")
        )
    if not wrong:
        click.echo("every open-chat counter matches")
    elif check:
        raise SystemExit(1)


def _first_line(exc: BaseException | None) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__
