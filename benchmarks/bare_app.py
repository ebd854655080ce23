"""The baseline for `benchmarks.inbound`: a bare Flask handler that stores one row per request.

No signature check, no parsing beyond Flask's form, no bot, no outbox: one INSERT through
SQLAlchemy Core in one transaction, on the engine `centralita serve` uses
(`centralita.web.server.web_engine`: the same WAL, busy timeout and BEGIN IMMEDIATE on SQLite,
the same pool without pre-ping on PostgreSQL), served by gunicorn with the same options
(`gunicorn_options`). What the real webhook does beyond this is what the benchmark's ratio
measures.

    DATABASE_URL=... python -m benchmarks.bare_app --port 5001 --workers 2
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert

from centralita.core.models import utcnow
from centralita.web.server import _Gunicorn, gunicorn_options, web_engine
from centralita.web.webhooks import EMPTY_TWIML

metadata = MetaData()
bare_messages = Table(
    "bench_bare_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider_sid", String(64)),
    Column("sender", String(64)),
    Column("body", Text),
    Column("created_at", DateTime(timezone=True)),
)


def create_app() -> Flask:
    engine = web_engine(os.environ["DATABASE_URL"])
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.post("/webhooks/twilio/messages")
    def inbound() -> Response:
        form = request.form
        with engine.begin() as conn:
            conn.execute(
                insert(bare_messages).values(
                    provider_sid=form.get("MessageSid"),
                    sender=form.get("From"),
                    body=form.get("Body", ""),
                    created_at=utcnow(),
                )
            )
        return Response(EMPTY_TWIML, mimetype="text/xml")

    return app


class _BareGunicorn(_Gunicorn):
    def load(self) -> Any:
        return create_app()  # in the worker after the fork, as `centralita serve` does


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    # The same options as centralita.web.server.run, access log included.
    _BareGunicorn(gunicorn_options(args.host, args.port, args.workers, args.threads)).run()


if __name__ == "__main__":
    main()
