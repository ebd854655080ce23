"""`centralita serve`: the app under gunicorn, one Runtime per worker process."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from sqlalchemy import Engine


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """How `serve` runs gunicorn (benchmarks/bare_app.py uses the same, for a fair baseline).

    Sync workers: a request is CPU and a few short database round trips, so a process per
    core is the cheapest way through (threads would only add switching under the GIL), and
    Twilio opens a connection per webhook anyway.
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "timeout": 60,
        "graceful_timeout": 20,
    }


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


def run(host: str, port: int, workers: int) -> None:
    _Gunicorn(gunicorn_options(host, port, workers)).run()
