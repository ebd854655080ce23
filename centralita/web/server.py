"""`centralita serve`: the app under gunicorn, one Runtime per worker process."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from sqlalchemy import Engine


def gunicorn_options(host: str, port: int, workers: int, threads: int = 16) -> dict[str, Any]:
    """How `serve` runs gunicorn (benchmarks/bare_app.py uses the same, for a fair baseline).

    Threaded workers (gthread): every open inbox page holds one thread with its live-event
    stream (Server-Sent Events), which must not stop a process from answering webhooks. A
    webhook is CPU and a few short database round trips, so the threads mostly wait on the
    streams; size `workers * threads` for the agents' pages plus some room for webhooks.
    With `threads=1`, sync workers: about 25% more webhooks per CPU (no thread pool), for
    processes that only take Twilio's webhooks and the API behind a path-routing proxy;
    pages served by them get live updates every 3 s instead (events.py).
    """
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "timeout": 60,
        "graceful_timeout": 20,
    }
    if threads > 1:
        options.update(worker_class="gthread", threads=threads)
    return options


def web_engine(database_url: str) -> Engine:
    """The web process's database engine: no ping before each checkout.

    `pool_pre_ping` would cost every request a round trip to the database. Instead, a
    connection the database dropped (a restart, a failover) fails its first statement, which
    invalidates the pool; the webhooks then run once more on a fresh connection
    (webhooks.py), and another page answers 500 once.
    """
    from centralita.core.db import make_engine

    return make_engine(database_url, pool_pre_ping=False)


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # untyped base class
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Imported here, in the worker after the fork: each process gets its own database
        # pool, Redis connection and job thread.
        from centralita.core.runtime import Runtime
        from centralita.core.settings import Settings
        from centralita.web import create_app

        settings = Settings.from_env()
        runtime = Runtime.build(settings, engine=web_engine(settings.database_url))
        return create_app(runtime=runtime)


def run(host: str, port: int, workers: int, threads: int = 16) -> None:
    _Gunicorn(gunicorn_options(host, port, workers, threads)).run()
