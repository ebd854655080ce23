"""`centralita demo`: the whole loop on this machine in two minutes.

Migrates DATABASE_URL (default: SQLite in instance/), seeds the demo campaigns, numbers,
customers and people (`centralita.devtools.demo`, idempotent), then serves the app with the
customer simulator on in one process. No Redis, no Twilio account, no internet needed.
"""

from __future__ import annotations

import logging
import os
import sys
import webbrowser

import click
from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError

from centralita.core.db import make_engine
from centralita.core.migrate import MigrationError, upgrade
from centralita.core.settings import Settings, SettingsError, redact_url
from centralita.customers.phones import PhoneRegionError, phone_region_from_env
from centralita.devtools.demo import DemoError, DemoReport, seed_demo, summary_lines


def register(group: click.Group) -> None:
    group.add_command(demo)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--seed-only", is_flag=True, help="Prepare the database and the data, then exit.")
@click.option(
    "--no-seed",
    is_flag=True,
    help="Only migrate and serve (with the simulator): for development on your own data.",
)
@click.option(
    "--open/--no-open",
    "open_browser",
    default=None,
    help="Open the inbox and the simulator in a browser (default: when there is a display).",
)
def demo(host: str, port: int, seed_only: bool, no_seed: bool, open_browser: bool | None) -> None:
    """Demo data and the web app with the customer simulator, in one process."""
    try:
        settings = Settings.from_env(demo=True)
        region = phone_region_from_env()
    except (SettingsError, PhoneRegionError) as exc:
        raise click.ClickException(str(exc)) from None
    url = settings.database_url
    try:
        result = upgrade(url)
        report = None if no_seed else _seed(url, settings, region)
    except DBAPIError as exc:
        first = (str(exc.orig).strip().splitlines() or ["database error"])[0]
        raise click.ClickException(f"database {redact_url(url)}: {first}") from None
    except (CommandError, MigrationError, DemoError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database {result.url} at revision {result.after}")
    if (
        report is not None and report.rejected
    ):  # the generator's bug, not the newcomer's: say it, carry on
        click.echo(f"warning: {len(report.rejected)} generated customers were rejected:", err=True)
        for line in report.rejected[:10]:
            click.echo(f"  {line}", err=True)
    if seed_only:
        if report is not None:
            for line in summary_lines(report, f"http://{host}:{port}"):
                click.echo(line)
        return

    from centralita.devtools.demo_server import DemoServer

    _quiet_logs()
    try:
        server = DemoServer(settings, host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (try --port 5001)"
        ) from None
    base_url = f"http://{host}:{server.port}"
    if report is not None:
        for line in summary_lines(report, base_url):
            click.echo(line)
    else:
        click.echo(f"Centralita on {base_url} (simulator: {base_url}/simulator)")
    if settings.twilio_enabled:
        click.echo("  Twilio credentials found: webhooks are signed and checked, but the demo")
        click.echo("  never sends: messages stay on this machine (console transport).")
    click.echo("\n  Ctrl+C para terminar.")
    if open_browser is None:
        open_browser = _has_display()
    if open_browser:
        webbrowser.open(f"{base_url}/simulator")
        webbrowser.open(f"{base_url}/login")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("\nbye")


def _seed(url: str, settings: Settings, region: str) -> DemoReport:
    engine = make_engine(url)
    try:
        return seed_demo(
            engine,
            flows_dir=settings.flows_dir,
            work_dir=settings.storage_dir / "demo",
            phone_region=region,
        )
    finally:
        engine.dispose()


def _has_display() -> bool:
    # Without a display, webbrowser would start a text browser in this very terminal.
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _quiet_logs() -> None:
    # The console transport logs each message "sent" (INFO): the demo shows them; one access
    # line per request (and per poll of a live page) would bury them.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # WeasyPrint narrates each PDF's rendering steps at INFO.
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
