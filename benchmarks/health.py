"""Sender health on a large messages table: how long one `evaluate_senders` takes.

Builds a throw-away database with realistic traffic on four numbers (three WhatsApp, one
SMS): conversations that start with a business-initiated template, customers who answer or
not, bot and agent replies, a few percent failures with Twilio error codes, and status
callbacks. `--messages` of them fall in the last 24 hours and `--history` times as many in
the days before, which the indexed time filters should skip. Then it times
`evaluate_senders` (what the sweep runs every ~30 s) over several rounds.

    python -m benchmarks.health [--messages 200000] [--history 1] [--rounds 5]
        [--database-url URL] [--explain]

PostgreSQL by default (TEST_DATABASE_URL, in a schema of its own, dropped after);
`--database-url sqlite` measures SQLite in a temporary file. `--explain` prints the plans.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from centralita.channels import health_queries
from centralita.channels.health import health_report
from centralita.channels.health_thresholds import HealthThresholds
from centralita.channels.senders import evaluate_senders
from centralita.core.db import make_engine, normalize_url
from centralita.core.models import (
    Base,
    Chat,
    Contact,
    Message,
    MessageEvent,
    SenderNumber,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings

DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
NUMBERS = ["whatsapp:+5716001234", "whatsapp:+5716005678", "whatsapp:+5716009012", "+5716003456"]
FAILURE_CODES = ["63024", "63024", "63003", "30005", "63014", "63014", "21610", "63049", "63018"]
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BATCH = 5000


@contextmanager
def database(url: str) -> Iterator[str]:
    """A database URL with the tables created, removed afterwards."""
    if url == "sqlite":
        with TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    if make_url(url).get_backend_name() == "sqlite":
        yield url
        return
    admin = make_engine(url)
    schema = f"centralita_bench_{uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = normalize_url(url)
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seed(engine: Engine, in_window: int, history: float, rng: random.Random) -> dict[str, int]:
    """Insert the traffic; returns how many rows of each kind."""
    Base.metadata.create_all(engine)
    contacts: list[dict[str, Any]] = []
    chats: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    total = int(in_window * (1 + history))
    days = 1 + history
    contact_id = chat_id = message_id = 0
    while message_id < total:
        contact_id += 1
        phone = f"+57300{contact_id:07d}"
        number = rng.choice(NUMBERS)
        address = f"whatsapp:{phone}" if number.startswith("whatsapp:") else phone
        contacts.append(
            {"id": contact_id, "address": address, "phone": phone, "channel": "whatsapp"}
        )
        start = NOW - timedelta(seconds=rng.uniform(0, days * 86400))
        chat_id += 1
        chats.append({"id": chat_id, "contact_id": contact_id, "number": number, "status": "bot"})
        at = start
        answers = rng.random() < 0.6  # most customers answer the first template
        for turn in range(rng.randint(1, 6) if answers else 1):
            for direction in ("out", "in") if answers else ("out",):
                if turn == 0 and direction == "in" and rng.random() < 0.3:
                    continue
                message_id += 1
                at += timedelta(seconds=rng.uniform(2, 600))
                failed = direction == "out" and rng.random() < 0.04
                code = rng.choice(FAILURE_CODES) if failed else None
                status = "received" if direction == "in" else "undelivered" if failed else "read"
                messages.append(
                    {
                        "id": message_id,
                        "chat_id": chat_id,
                        "direction": direction,
                        "author": "customer" if direction == "in" else "bot",
                        "text": "hola",
                        "status": status,
                        "error_code": code,
                        "created_at": at,
                        "sent_at": at if direction == "out" else None,
                        "attempts": 1 if direction == "out" else 0,
                    }
                )
                if direction == "out":
                    for step, name in enumerate(("sent", status if failed else "delivered")):
                        events.append(
                            {
                                "message_id": message_id,
                                "status": name,
                                "error_code": code if step else None,
                                "raw": {},
                                "created_at": at + timedelta(seconds=1 + step),
                            }
                        )
    with engine.begin() as conn:
        conn.execute(insert(SenderNumber), [{"address": a, "flow_id": "bench"} for a in NUMBERS])
        for table, rows in (
            (Contact, contacts),
            (Chat, chats),
            (Message, messages),
            (MessageEvent, events),
        ):
            for i in range(0, len(rows), BATCH):
                conn.execute(insert(table), rows[i : i + BATCH])
    if engine.dialect.name == "postgresql":
        # As autovacuum would leave a settled table: statistics for the planner, and a
        # visibility map so the per-send probe stays an index-only scan.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("contacts", "chats", "messages", "message_events"):
                conn.execute(text(f"VACUUM ANALYZE {name}"))
    window = sum(1 for m in messages if m["created_at"] > NOW - timedelta(days=1))
    return {
        "messages": len(messages),
        "messages_last_24h": window,
        "events": len(events),
        "chats": len(chats),
    }


def explain(engine: Engine) -> None:
    dialect = engine.dialect.name
    queries = {
        "traffic": health_queries._traffic_query(NOW, dialect),
        "codes": health_queries._codes_query(NOW),
    }
    with engine.connect() as conn:
        if dialect == "postgresql":
            conn.execute(text("SET jit = off"))  # as health_queries.measure does
        for name, query in queries.items():
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            prefix = (
                "EXPLAIN (ANALYZE, BUFFERS)" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
            )
            print(f"\n-- {name}")
            for row in conn.execute(text(f"{prefix} {compiled}")):
                print("  ", " | ".join(str(v) for v in row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="in the last 24 hours")
    parser.add_argument("--history", type=float, default=1.0, help="older days, x messages")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args(argv)

    with database(args.database_url) as url:
        settings = Settings(secret_key="bench", database_url=url)
        rt = Runtime.for_tests(settings)
        try:
            started = time.perf_counter()
            counts = seed(rt.engine, args.messages, args.history, random.Random(7))
            seeded = time.perf_counter() - started
            print(f"{rt.engine.dialect.name}: seeded {counts} in {seeded:.1f}s")
            if args.explain:
                explain(rt.engine)
            limits = HealthThresholds()
            timings = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                evaluate_senders(rt, NOW, limits)
                timings.append(time.perf_counter() - started)
            with rt.sessions() as session:
                report = health_report(session, NOW, limits)
            for sender in report["senders"]:
                figures = sender["figures"]
                print(
                    f"  {sender['address']:<22} {sender['level']:<8} "
                    f"outbound {figures['outbound_24h']}, "
                    f"recipients {sender['signals']['recipients_24h']['value']}"
                )
            print(
                f"evaluate_senders: median {statistics.median(timings) * 1000:.0f} ms, "
                f"best {min(timings) * 1000:.0f} ms over {args.rounds} rounds"
            )
        finally:
            rt.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
