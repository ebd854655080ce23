"""The inbound webhook in one process: SQL statements, Python calls and CPU per message.

A companion to `benchmarks/inbound.py` for the machine-independent part of the picture: the
same database setup, conversations and signed requests, posted one after the other through
Flask's test client to the real app (signature check, parsing, the transaction, the Redis
enqueue), without gunicorn or a load generator. The statements per message and the Python
function calls per message (with --profile) do not depend on what else the machine runs; the
CPU time per message does, a little, and is steadier than any throughput on a shared machine.

    python -m benchmarks.inbound_profile [--databases sqlite,postgresql] [--messages 500]
        [--profile [--sort tottime] [--lines 40] [--dump FILE]]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis
from sqlalchemy import event

from benchmarks import inbound as bench
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.web import create_app
from centralita.web.server import web_engine

DATABASE = "centralita_bench_profile"  # not inbound.py's: both may run at once
WARM_UP = 40  # requests before counting: connections, statement caches, the flow's first load


def _split(raw: bytes) -> tuple[bytes, str]:
    """A prepared raw HTTP request's form body and X-Twilio-Signature."""
    head, body = raw.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b": ")
        if name == b"X-Twilio-Signature":
            return body, value.decode()
    raise ValueError("request without a signature")


def measure(database: str, args: argparse.Namespace, promise: str) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="centralita-profile-") as tmp,
        bench.fresh_database(database, Path(tmp), args.postgres_url, DATABASE) as url,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if k != "DEFAULT_FLOW"},
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "profile-" + uuid.uuid4().hex,
            "PUBLIC_BASE_URL": bench.PUBLIC_BASE_URL,
            "TWILIO_ACCOUNT_SID": bench.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": bench.AUTH_TOKEN,
            "FLOWS_DIR": str(bench.ROOT / "flows"),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(bench.ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
        population = bench.Population(bench.prepare(url, args.customers, env), promise)
        redis = Redis.from_url(args.redis_url)
        redis.flushdb()
        settings = Settings.from_env(env)
        rt = Runtime.build(settings, engine=web_engine(url))  # as `centralita serve`
        statements = 0

        @event.listens_for(rt.engine, "before_cursor_execute")
        def count(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        try:
            client = create_app(runtime=rt).test_client()
            pool = bench.conversations(population, 80, WARM_UP + args.messages)
            requests = [_split(r) for c in pool for r in c][: WARM_UP + args.messages]

            def post(body: bytes, signature: str) -> None:
                answer = client.post(
                    bench.PATH,
                    data=body,
                    headers={"X-Twilio-Signature": signature},
                    content_type="application/x-www-form-urlencoded",
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"HTTP {answer.status_code}: {answer.data[:200]!r}")

            for body, signature in requests[:WARM_UP]:
                post(body, signature)
            counted = requests[WARM_UP:]
            profile = cProfile.Profile(time.process_time) if args.profile else None
            statements = 0
            cpu, wall = time.process_time(), time.perf_counter()
            if profile is not None:
                profile.enable()
            for body, signature in counted:
                post(body, signature)
            if profile is not None:
                profile.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            rt.engine.dispose()
            redis.flushdb()
            redis.close()
        n = len(counted)
        line = (
            f"{database}: {n} messages, {statements / n:.2f} SQL statements per message, "
            f"CPU {cpu * 1000 / n:.2f} ms per message, wall {wall * 1000 / n:.2f} ms"
        )
        if profile is None:
            print(line, flush=True)
            return
        stats = pstats.Stats(profile)
        calls: int = stats.total_calls  # type: ignore[attr-defined]  # untyped attribute
        print(f"{line} (profiled), {calls / n:,.0f} Python calls per message", flush=True)
        if args.dump:
            stats.dump_stats(f"{args.dump}.{database}")
        stats.sort_stats(args.sort).print_stats(args.lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--messages", type=int, default=500, help="messages counted")
    parser.add_argument("--customers", type=int, default=3000, help="generated customers")
    parser.add_argument("--profile", action="store_true", help="cProfile (CPU time) as well")
    parser.add_argument("--sort", default="cumtime", help="profile order (pstats keys)")
    parser.add_argument("--lines", type=int, default=40, help="profile lines shown")
    parser.add_argument("--dump", help="also save the profile to DUMP.<database> (pstats)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"),
        help=f"a PostgreSQL to create (and drop) the database {DATABASE} in",
    )  # fmt: skip
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="a Redis database of its own: it is flushed",
    )
    args = parser.parse_args(argv)
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if set(databases) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite and/or postgresql")
    today = datetime.now(ZoneInfo("America/Bogota")).date()
    promise = (today + timedelta(days=3)).strftime("%d/%m/%Y")
    for database in databases:
        measure(database, args, promise)
    return 0


if __name__ == "__main__":
    sys.exit(main())
