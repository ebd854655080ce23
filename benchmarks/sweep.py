"""One sweep over 100,000 open chats of which 1% are due, on PostgreSQL and SQLite.

The scene: 100,000 open chats (97% assigned to 200 agents, 3% waiting in the queue while
every agent is offline), each with its close deadline in the next 24 hours and a third with
an unanswered episode under way; 1% are due: 500 past their alert time, 500 past their close
time. Three figures per database, each the median of several rounds:

1. **Selection**: the sweep's cost to find the due work among the 100,000 (the due-selection
   queries of the alert and close steps, each an index range scan returning its 500 ids).
   This is what the target is about: it does not grow with the open chats.
2. **Idle sweep**: a whole `sweep()` when nothing is due (every step's queries: closes,
   alerts, reassignments, bot timers, outbox, transcripts, queue drain, sender health).
   Sender health is measured at most once a minute per process (`senders.EVALUATE_EVERY`),
   so of two 30-second sweeps one measures: its cost is printed on its own line, and the
   idle figure is a sweep that does not measure (the step's own check only).
3. **Sweep with 1% due**: a whole `sweep()` that raises the 500 alerts and closes the 500
   chats (a closing message each, transcripts due), with its steps timed separately; then
   the state is put back, untimed, for the next round. Jobs go to a recording stub that
   counts them (the sweep's own work), and with `--redis-url` also to a real RQ queue in
   that Redis, and the chats' live events are published there: the figure a worker with
   REDIS_URL would really see (the closes send their closing messages and transcripts as
   batch jobs of 50 ids; each batch's events go in one Redis message).

    python -m benchmarks.sweep [--databases postgresql,sqlite] [--chats 100000]
        [--rounds 5] [--database-url URL] [--redis-url redis://127.0.0.1:6379/14]

`--redis-url`: a Redis whose `centralita` queue is empty (the benchmark refuses otherwise,
so it never deletes real jobs); the jobs each round enqueues are deleted after it.

Targets (issue 5): the sweep over 100,000 open chats with 1% due at most 20 ms on
PostgreSQL and 50 ms on SQLite: checked against figure 1 (finding the due work); figures 2
and 3 are compared with it too, so the cost of a whole sweep and of doing the work is plain.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import Engine, delete, insert, select, text, update

from benchmarks.scratch import scratch_database
from centralita.channels.bot_timers import tick_due_chats
from centralita.channels.outbox import recover_unsent
from centralita.channels.senders import evaluate_senders, evaluate_senders_if_due
from centralita.channels.transport import ConsoleTransport
from centralita.core.db import make_engine, session_factory
from centralita.core.jobs import QUEUE_NAME, RQJobs
from centralita.core.models import (
    Alert,
    Base,
    Campaign,
    Chat,
    ChatStatus,
    Contact,
    Message,
    Role,
    SenderNumber,
    User,
    user_campaigns,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.sweep import sweep
from centralita.lifecycle.alerts import raise_due_unanswered
from centralita.lifecycle.autoclose import close_due_chats
from centralita.lifecycle.deadlines import HUMAN_STATUSES
from centralita.lifecycle.jobs import requeue_due_transcripts
from centralita.lifecycle.reassign import reassign_due_chats
from centralita.routing.queue import drain_queue

TARGET_MS = {"postgresql": 20.0, "sqlite": 50.0}
DEFAULT_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
BENCH_DATABASE = "centralita_bench_sweep"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NUMBER = "whatsapp:+5716001234"
AGENTS = 200


class RecordingJobs:
    """Jobs are counted, not run: the figure is the sweep's own database work. With `rq`,
    they are also enqueued there (never run either): the figure with Redis's part."""

    def __init__(self, rq: RQJobs | None = None) -> None:
        self.count = 0
        self.rq = rq

    def enqueue(self, func: Callable[..., Any], *args: Any, delay: float = 0.0) -> None:
        self.count += 1
        if self.rq is not None:
            self.rq.enqueue(func, *args, delay=delay)

    def enqueue_many(
        self, func: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, timeout: int
    ) -> None:
        self.count += len(calls)
        if self.rq is not None:
            self.rq.enqueue_many(func, calls, timeout=timeout)

    def clear(self) -> None:
        """Delete the jobs enqueued so far (untimed, between rounds)."""
        if self.rq is not None:
            self.rq.queue.empty()  # type: ignore[no-untyped-call]
            self.rq.queue.scheduled_job_registry.remove_jobs()


def rq_jobs(redis_url: str | None) -> RQJobs | None:
    """RQ on `redis_url`, whose queue must be empty: its jobs are deleted after each round."""
    if redis_url is None:
        return None
    jobs = RQJobs(Redis.from_url(redis_url))
    waiting = jobs.queue.count + jobs.queue.scheduled_job_registry.count
    if waiting:
        raise SystemExit(f"{redis_url}: queue {QUEUE_NAME} holds {waiting} jobs; use an empty one")
    return jobs


def build(engine: Engine, chats: int) -> tuple[list[int], list[int]]:
    """The scene; returns the ids due for an alert and those due to close."""
    Base.metadata.create_all(engine)
    due_each = chats // 200  # 0.5% + 0.5% = 1%
    with session_factory(engine).begin() as session:
        campaign = Campaign(slug="bench", name="Bench", closing_message="¡Gracias!")
        session.add(campaign)
        # The number every chat came in on: sender health measures its day.
        session.add(SenderNumber(address=NUMBER, flow_id="bench"))
        session.flush()
        agents = [
            User(email=f"a{n}@x.co", name=f"A{n}", role=Role.AGENT, password_hash="-")
            for n in range(AGENTS)
        ]
        session.add_all(agents)
        session.flush()
        session.execute(
            insert(user_campaigns), [{"user_id": a.id, "campaign_id": campaign.id} for a in agents]
        )
        campaign_id, agent_ids = campaign.id, [a.id for a in agents]
    rows = []
    for i in range(chats):
        opened = NOW - timedelta(hours=23) + timedelta(seconds=(i * 7919) % 82800)
        waiting = i % 33 == 0
        row: dict[str, Any] = {
            "contact_id": i + 1,
            "number": NUMBER,
            "status": ChatStatus.WAITING_QUEUE if waiting else ChatStatus.ASSIGNED,
            "campaign_id": campaign_id,
            "agent_id": None if waiting else agent_ids[i % AGENTS],
            "opened_at": opened,
            "queued_at": opened,
            "close_due_at": opened + timedelta(hours=24),
            "unanswered_since": None,
            "alert_due_at": None,
            "priority": 0,
            "transcript_attempts": 0,
        }
        if i % 3 == 0:
            since = NOW - timedelta(minutes=(i % 29))
            row |= {"unanswered_since": since, "alert_due_at": since + timedelta(minutes=30)}
        rows.append(row)
    alert_due = list(range(1, 2 * due_each, 2))  # odd positions: not waiting, see below
    close_due = list(range(2, 2 * due_each + 1, 2))
    for i in alert_due:
        rows[i] |= {
            "unanswered_since": NOW - timedelta(minutes=31),
            "alert_due_at": NOW - timedelta(minutes=1),
        }
    for i in close_due:
        rows[i] |= {"opened_at": NOW - timedelta(hours=24, minutes=1)}
        rows[i]["close_due_at"] = rows[i]["opened_at"] + timedelta(hours=24)
    with engine.begin() as conn:
        for start in range(0, chats, 10_000):
            conn.execute(
                insert(Contact),
                [
                    {"address": f"whatsapp:+57300{n:07d}", "phone": f"+57300{n:07d}"}
                    | {"channel": "whatsapp"}
                    for n in range(start + 1, min(start + 10_000, chats) + 1)
                ],
            )
            conn.execute(insert(Chat), rows[start : start + 10_000])
    # As on a database that has lived a while (autovacuum): statistics for the planner, and
    # PostgreSQL's visibility map set, so index-only scans need not visit the table.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    # Chat ids follow the insert order (1-based).
    return [i + 1 for i in alert_due], [i + 1 for i in close_due]


def reset(engine: Engine, alert_due: list[int], close_due: list[int]) -> None:
    """Put the due 1% back as it was before the sweep (untimed)."""
    with engine.begin() as conn:
        conn.execute(delete(Alert))
        conn.execute(delete(Message))
        conn.execute(
            update(Chat)
            .where(Chat.id.in_(alert_due))
            .values(alert_due_at=NOW - timedelta(minutes=1))
        )
        conn.execute(
            update(Chat)
            .where(Chat.id.in_(close_due))
            .values(
                status=ChatStatus.ASSIGNED,
                closed_at=None,
                close_reason=None,
                closed_by=None,
                close_due_at=NOW - timedelta(minutes=1),
                transcript_due_at=None,
            )
        )
        # Closed chats lost their agent's episode: give back what the scene had.
        conn.execute(
            update(Chat)
            .where(Chat.id.in_(close_due), Chat.agent_id.is_(None))
            .values(status=ChatStatus.WAITING_QUEUE)
        )


def selection(rt: Runtime) -> None:
    """The due-selection queries of the alert and close steps, as they run in the sweep."""
    with rt.sessions() as session:
        session.execute(
            select(Chat.id, Chat.campaign_id, Chat.agent_id, Chat.number, Chat.unanswered_since)
            .where(Chat.alert_due_at <= NOW, Chat.status.in_(HUMAN_STATUSES))
            .order_by(Chat.alert_due_at)
            .limit(500)
        ).all()
        session.scalars(
            select(Chat.id)
            .where(Chat.close_due_at <= NOW, Chat.status != ChatStatus.CLOSED)
            .order_by(Chat.close_due_at)
            .limit(200)
        ).all()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def steps(rt: Runtime, at: datetime) -> dict[str, Callable[[], object]]:
    """The sweep's steps, in its order (core/sweep.py), to time them one by one."""
    return {
        "outbox": lambda: recover_unsent(rt, at),
        "transcripts": lambda: requeue_due_transcripts(rt, at),
        "closes": lambda: close_due_chats(rt, at),
        "alerts": lambda: raise_due_unanswered(rt, at),
        "reassignments": lambda: reassign_due_chats(rt, at),
        "bot timers": lambda: tick_due_chats(rt, at),
        "queue drain": lambda: drain_queue(rt.sessions, at),
        "sender health": lambda: evaluate_senders_if_due(rt, at),
    }


@dataclass
class Figures:
    select: float = 0.0
    idle: float = 0.0
    senders: float = 0.0  # measuring every number's health: once a minute
    due: float = 0.0
    due_jobs: int = 0  # jobs one due sweep enqueued
    idle_steps: dict[str, float] = field(default_factory=dict)
    due_steps: dict[str, float] = field(default_factory=dict)


def run(kind: str, url: str, args: argparse.Namespace) -> Figures:
    engine = make_engine(url)
    figures = Figures()
    try:
        started = time.perf_counter()
        alert_due, close_due = build(engine, args.chats)
        print(f"  {kind}: scene built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        with tempfile.TemporaryDirectory() as flows:
            # With a Redis, the live events go through it too, as in a worker with REDIS_URL.
            settings = Settings(
                secret_key="bench",
                database_url=url,
                flows_dir=Path(flows),
                redis_url=args.redis_url,
            )
            jobs = RecordingJobs(rq_jobs(args.redis_url))
            rt = Runtime.build(settings, jobs=jobs, transport=ConsoleTransport(), engine=engine)
            rounds = args.rounds * 4
            for _ in range(3):  # warm: connections, statement caches
                selection(rt)
            figures.select = statistics.median(timed(lambda: selection(rt)) for _ in range(rounds))
            idle_at = NOW - timedelta(hours=1)  # before every deadline
            figures.senders = statistics.median(
                timed(lambda: evaluate_senders(rt, idle_at)) for _ in range(rounds)
            )
            sweep(rt, idle_at)  # measures the senders: the next minute's sweeps do not
            figures.idle = statistics.median(
                timed(lambda: sweep(rt, idle_at)) for _ in range(rounds)
            )
            figures.idle_steps = {
                name: statistics.median(timed(step) for _ in range(rounds))
                for name, step in steps(rt, idle_at).items()
            }
            due_ms: list[float] = []
            for n in range(args.rounds):
                reset(engine, alert_due, close_due)
                jobs.clear()
                jobs.count = 0
                start = time.perf_counter()
                report = sweep(rt, NOW)
                due_ms.append((time.perf_counter() - start) * 1000)
                if (report.alerts_raised, report.chats_closed) != (len(alert_due), len(close_due)):
                    raise SystemExit(f"{kind}: round {n} did {report}")
                figures.due_jobs = jobs.count
            figures.due = statistics.median(due_ms)
            reset(engine, alert_due, close_due)  # once more, each step doing its own part
            jobs.clear()
            figures.due_steps = {name: timed(step) for name, step in steps(rt, NOW).items()}
            jobs.clear()
    finally:
        engine.dispose()
    return figures


def breakdown(step_ms: dict[str, float]) -> str:
    return ", ".join(f"{name} {ms:.1f}" for name, ms in step_ms.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_URL),
        help=f"a PostgreSQL to create (and drop) the database {BENCH_DATABASE} in",
    )
    parser.add_argument(
        "--redis-url",
        default=None,
        help="also enqueue the jobs in RQ on this Redis (its centralita queue must be empty);"
        " default: jobs are only counted",
    )
    args = parser.parse_args(argv)
    due = args.chats // 100
    print(
        f"sweep: {args.chats:,} open chats, {due:,} due ({due // 2:,} alerts, {due // 2:,}"
        f" closes); medians of {args.rounds}+ rounds; {platform.machine()},"
        f" {os.cpu_count()} cores, CPython {platform.python_version()}; jobs"
        f" {'enqueued in RQ at ' + args.redis_url if args.redis_url else 'counted, not enqueued'}"
    )
    ok = True
    half = due // 2
    for kind in args.databases.split(","):
        with scratch_database(kind, args.database_url, BENCH_DATABASE) as url:
            r = run(kind, url, args)
        target = TARGET_MS[kind]
        met = r.select <= target
        ok &= met
        print(
            f"{kind}: finding the due 1% among {args.chats:,}: {r.select:.2f} ms"
            f" (target ≤ {target:.0f} ms: {'met' if met else 'NOT met'})"
        )
        verdict = "met" if r.idle <= target else "NOT met"
        print(
            f"{kind}: a whole sweep with nothing due: {r.idle:.1f} ms"
            f" (≤ {target:.0f} ms: {verdict})"
        )
        print(f"{kind}:   by step (ms): {breakdown(r.idle_steps)}")
        print(
            f"{kind}: measuring sender health, in one sweep a minute (of two): {r.senders:.1f} ms"
        )
        print(
            f"{kind}: a whole sweep doing the 1% ({half} alerts, {half} closes with closing"
            f" messages): {r.due:.1f} ms (≤ {target:.0f} ms:"
            f" {'met' if r.due <= target else 'NOT met'}); per due chat: close"
            f" {r.due_steps['closes'] / half:.2f} ms, alert {r.due_steps['alerts'] / half:.2f} ms;"
            f" {r.due_jobs} jobs enqueued"
        )
        print(f"{kind}:   by step (ms): {breakdown(r.due_steps)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
