"""The router under load: assignment decisions per second with 16 concurrent assigners and
50 agents, on PostgreSQL and SQLite, then the invariants.

One campaign (the worst case: every assigner wants the same 50 agents), least-load policy,
50 agents online with capacity 8 (400 seats). Each round puts 400 chats in the queue, and
16 assigner processes, each with its own engine (as web workers have), call `assign_chat` on
their share of them at once, each chat in its own transaction. A round ends with every seat
taken; the timing covers the assigners only. Then, untimed: the invariants are checked (no
agent over capacity, each chat with one agent and one log row that names them, each agent's
open-chat counter equal to their open chats), every chat is closed, the agents heartbeat,
and the clock moves on a minute (a simulated clock, so the per-minute cap counts one round
at a time, as a real minute of a real contact center would).

    python -m benchmarks.router [--databases postgresql,sqlite] [--rounds 10]
        [--assigners 16] [--agents 50] [--capacity 8] [--database-url URL]

PostgreSQL: a database `centralita_bench_router` is created (and dropped) on the server of
`--database-url` (default TEST_DATABASE_URL). Target (issue 4): ≥ 2,000 decisions/s there.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import Engine, insert, select, text, update

from benchmarks.scratch import scratch_database
from centralita.core.db import make_engine, session_factory
from centralita.core.models import (
    Assignment,
    Base,
    Campaign,
    Channel,
    Chat,
    ChatStatus,
    Contact,
    Presence,
    Role,
    User,
    user_campaigns,
)
from centralita.routing.assign import assign_chat

TARGET_POSTGRES_RATE = 2000.0  # decisions/s
DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
BENCH_DATABASE = "centralita_bench_router"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NUMBER = "whatsapp:+5716001234"


# --- The scene -----------------------------------------------------------------------------


def build(engine: Engine, agents: int, capacity: int) -> int:
    """The schema, one campaign and its agents; the campaign's id."""
    Base.metadata.create_all(engine)
    with session_factory(engine).begin() as session:
        campaign = Campaign(slug="bench", name="Bench", max_assignments_per_minute=capacity)
        session.add(campaign)
        session.flush()
        users = [
            User(
                email=f"agent{n:03d}@example.com",
                name=f"Agent {n}",
                role=Role.AGENT,
                password_hash="-",
                capacity=capacity,
                presence=Presence.ONLINE,
                last_seen_at=START,
            )
            for n in range(agents)
        ]
        session.add_all(users)
        session.flush()
        session.execute(
            insert(user_campaigns),
            [{"user_id": u.id, "campaign_id": campaign.id} for u in users],
        )
        return campaign.id


def new_round(engine: Engine, campaign_id: int, chats: int, now: datetime, first: int) -> None:
    """Close the last round's chats, heartbeat everyone, queue `chats` new ones."""
    with session_factory(engine).begin() as session:
        session.execute(
            update(Chat)
            .where(Chat.status == ChatStatus.ASSIGNED)
            .values(status=ChatStatus.CLOSED, closed_at=now)
        )
        session.execute(update(User).values(last_seen_at=now))
        contact_ids = session.scalars(
            insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
            [
                {
                    "address": f"whatsapp:+57300{n:07d}",
                    "phone": f"+57300{n:07d}",
                    "channel": Channel.WHATSAPP,
                    "created_at": now,
                }
                for n in range(first, first + chats)
            ],
        ).all()
        session.execute(
            insert(Chat),
            [
                {
                    "contact_id": contact_id,
                    "number": NUMBER,
                    "status": ChatStatus.WAITING_QUEUE,
                    "campaign_id": campaign_id,
                    "opened_at": now - timedelta(minutes=5),
                    "queued_at": now - timedelta(seconds=n),
                    "priority": 0,
                }
                for n, contact_id in enumerate(contact_ids)
            ],
        )


def waiting_ids(engine: Engine) -> list[int]:
    with session_factory(engine)() as session:
        return list(
            session.scalars(
                select(Chat.id).where(Chat.status == ChatStatus.WAITING_QUEUE).order_by(Chat.id)
            )
        )


def check_invariants(engine: Engine, round_chats: list[int]) -> list[str]:
    """What went wrong this round (empty: nothing)."""
    problems = []
    with session_factory(engine)() as session:
        capacity = dict(session.execute(select(User.id, User.capacity)).tuples().all())
        counters = dict(session.execute(select(User.id, User.open_chats)).tuples().all())
        chats = session.execute(
            select(Chat.id, Chat.status, Chat.agent_id).where(Chat.id.in_(round_chats))
        ).all()
        log = session.execute(
            select(Assignment.chat_id, Assignment.agent_id).where(
                Assignment.chat_id.in_(round_chats)
            )
        ).all()
    load = Counter(agent for _, status, agent in chats if status == ChatStatus.ASSIGNED)
    over = {a: n for a, n in load.items() if n > capacity[a]}
    if over:
        problems.append(f"agents over capacity: {over}")
    wrong = {a: n for a, n in counters.items() if n != load.get(a, 0)}
    if wrong:
        problems.append(f"open-chat counters that disagree with the chats: {wrong}")
    rows = Counter(chat for chat, _ in log)
    if any(n > 1 for n in rows.values()):
        problems.append(f"chats with two log rows: {[c for c, n in rows.items() if n > 1][:5]}")
    logged = {chat_id: agent_id for chat_id, agent_id in log}
    for chat_id, status, agent in chats:
        if status != ChatStatus.ASSIGNED:
            problems.append(f"chat {chat_id} left {status} with seats free")
        elif logged.get(chat_id) != agent:
            problems.append(f"chat {chat_id}: agent {agent}, log says {logged.get(chat_id)}")
    return problems[:10]


# --- Assigners -----------------------------------------------------------------------------


def assigner(url: str, barrier: Barrier, pipe: Connection) -> None:
    """A process with its own engine: per round, assign the chats it is given."""
    # SQLite: 16 writers take turns on one lock; under load a turn can take longer than the
    # default 5 s busy timeout, which would turn a slow decision into an error.
    # No pre-ping: as the web engine (web/server.py), where handoffs are decided.
    engine = make_engine(
        url, pool_size=1, max_overflow=0, sqlite_busy_timeout=60, pool_pre_ping=False
    )
    sessions = session_factory(engine)
    backend = _backend_pid(engine)
    try:
        while True:
            job = pipe.recv()
            if job is None:
                return
            now, chat_ids = job
            latencies = []
            made = 0
            barrier.wait()
            cpu = time.process_time(), _cpu_seconds(backend)
            start = time.perf_counter()
            for chat_id in chat_ids:
                t = time.perf_counter()
                with sessions.begin() as session:
                    made += assign_chat(session, chat_id, now) is not None
                latencies.append(time.perf_counter() - t)
            end = time.perf_counter()
            client = time.process_time() - cpu[0]
            server = _cpu_seconds(backend) - cpu[1]
            pipe.send((start, end, made, latencies, client, server))
    finally:
        engine.dispose()


def _backend_pid(engine: Engine) -> int | None:
    """The PostgreSQL server process serving this assigner's one connection."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a local process so far; 0 if it cannot be read."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    database: str
    decisions: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    round_rates: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    client_cpu: float = 0.0  # seconds, the assigner processes together
    server_cpu: float = 0.0  # seconds, their PostgreSQL backends together (0: not local)

    @property
    def rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    def quantile_ms(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


def run(kind: str, url: str, args: argparse.Namespace) -> Result:
    engine = make_engine(url)
    result = Result(kind)
    seats = args.agents * args.capacity
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(args.assigners)
    pipes = []
    workers = []
    try:
        campaign_id = build(engine, args.agents, args.capacity)
        for _ in range(args.assigners):
            ours, theirs = context.Pipe()
            worker = context.Process(target=assigner, args=(url, barrier, theirs), daemon=True)
            worker.start()
            pipes.append(ours)
            workers.append(worker)
        for n in range(args.rounds + 1):  # round 0 warms up (connections, caches)
            now = START + timedelta(seconds=61 * n)
            new_round(engine, campaign_id, seats, now, first=n * seats)
            chats = waiting_ids(engine)
            for i, pipe in enumerate(pipes):
                pipe.send((now, chats[i :: args.assigners]))
            answers = [pipe.recv() for pipe in pipes]
            seconds = max(a[1] for a in answers) - min(a[0] for a in answers)
            made = sum(a[2] for a in answers)
            problems = check_invariants(engine, chats)
            if made != len(chats):
                problems.append(f"round {n}: {made} assignments for {len(chats)} chats")
            result.problems += problems
            if n == 0:
                continue
            result.decisions += made
            result.seconds += seconds
            result.round_rates.append(made / seconds)
            result.latencies += [x for a in answers for x in a[3]]
            result.client_cpu += sum(a[4] for a in answers)
            result.server_cpu += sum(a[5] for a in answers)
            print(f"  {kind} round {n}: {made} decisions in {seconds:.3f} s", file=sys.stderr)
    finally:
        for pipe in pipes:
            pipe.send(None)
        for worker in workers:
            worker.join(timeout=30)
        engine.dispose()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--assigners", type=int, default=16)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--capacity", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_URL),
        help=f"a PostgreSQL to create (and drop) the database {BENCH_DATABASE} in",
    )
    args = parser.parse_args(argv)
    print(
        f"router: {args.assigners} assigner processes, {args.agents} agents x capacity"
        f" {args.capacity}, {args.rounds} rounds of {args.agents * args.capacity} chats;"
        f" {platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}"
    )
    ok = True
    for kind in args.databases.split(","):
        with scratch_database(kind, args.database_url, BENCH_DATABASE) as url:
            result = run(kind, url, args)
        target = TARGET_POSTGRES_RATE if kind == "postgresql" else None
        verdict = ""
        if target is not None:
            met = result.rate >= target
            ok &= met
            verdict = f"  (target ≥ {target:,.0f}: {'met' if met else 'NOT met'})"
        print(
            f"{kind}: {result.rate:,.0f} decisions/s{verdict}; rounds"
            f" {min(result.round_rates):,.0f}-{max(result.round_rates):,.0f}/s;"
            f" latency p50 {result.quantile_ms(50):.1f} ms, p99 {result.quantile_ms(99):.1f} ms"
        )
        per = (result.client_cpu + result.server_cpu) / result.decisions * 1000
        ceiling = (os.cpu_count() or 1) * 1000 / per if per else 0.0
        print(
            f"{kind}: CPU per decision {per:.2f} ms (assigners"
            f" {result.client_cpu / result.decisions * 1000:.2f} ms, database backends"
            f" {result.server_cpu / result.decisions * 1000:.2f} ms): a CPU-bound ceiling of"
            f" {ceiling:,.0f} decisions/s on this machine's {os.cpu_count()} cores if nothing"
            " else ran"
        )
        if result.problems:
            ok = False
            print(f"{kind}: INVARIANTS BROKEN: " + "; ".join(result.problems))
        else:
            print(
                f"{kind}: invariants hold: nobody over capacity, one agent and one log row"
                " per chat, every seat filled, open-chat counters equal to the chats"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
