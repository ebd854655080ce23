"""Commands that run Centralita: `sweep` (and, later, `serve`, `worker`, `demo`)."""

from __future__ import annotations

import click

from centralita.cli.common import parse_now
from centralita.core import runtime as runtimes
from centralita.core.jobs import InlineJobs
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings, SettingsError
from centralita.core.sweep import sweep


def register(group: click.Group) -> None:
    group.add_command(sweep_command)
    group.add_command(serve)
    group.add_command(worker)


def _runtime() -> Runtime:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    # Without Redis, the jobs a command makes run before it exits, not in a thread it abandons.
    return Runtime.build(settings, jobs=None if settings.redis_url else InlineJobs())


@click.command("sweep")
@click.option(
    "--now", "now_text", default=None, help="Run as of this ISO 8601 time (default: now)."
)
def sweep_command(now_text: str | None) -> None:
    """Run the timers once: automatic closes, unanswered alerts and reassignments, bot
    reminders and timeouts, unsent messages and missing transcripts, the queue."""
    now = parse_now(now_text)
    rt = _runtime()
    runtimes.install(rt)  # the jobs it runs (sends, transcripts) use this runtime, inline
    try:
        report = sweep(rt, now)
    finally:
        runtimes.install(None)
        rt.engine.dispose()
    click.echo(f"sweep as of {now.isoformat()}")
    for line in report.lines():
        click.echo(f"  {line}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web processes (gunicorn). More processes behind a load balancer scale out.",
)
@click.option(
    "--threads",
    default=16,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Threads per process. Each open inbox page holds one (its live updates): "
    "workers x threads must exceed the pages open at once. 1: sync workers, for "
    "processes that only take webhooks and the API (more messages per CPU).",
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """The web server: Twilio webhooks, the API and the inbox (gunicorn)."""
    try:
        Settings.from_env()  # fail here, readably, rather than in every worker
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    from centralita.web.server import run

    run(host, port, workers, threads)


@click.command()
@click.option(
    "--sweep-every",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    help="Seconds between sweeps of the timers.",
)
@click.option("--burst", is_flag=True, help="Run the jobs queued now, then exit (tests, cron).")
def worker(sweep_every: float, burst: bool) -> None:
    """An RQ worker for background jobs that also runs the periodic sweep (needs REDIS_URL)."""
    rt = _runtime()
    if rt.redis is None:
        raise click.ClickException(
            "the worker needs REDIS_URL; without Redis, `centralita serve` runs jobs itself"
        )
    from centralita.core.worker import run_worker

    run_worker(rt, sweep_every=sweep_every, burst=burst)
