"""Inbound webhooks through gunicorn: messages per second and latency, against a bare baseline.

For each database (SQLite in a temporary folder, PostgreSQL) and each number of gunicorn
workers, a fresh database gets the schema, the campaigns and customers of the shipped
`cobranza` flow's tests plus a few thousand generated customers, and a number mapped to
`cobranza` (`centralita numbers add`). Then `centralita serve` runs as in production:
signatures checked (TWILIO_AUTH_TOKEN), replies enqueued on Redis (REDIS_URL; no RQ worker
runs, the benchmark measures the webhook). Each request is a signed Twilio inbound message
from one of many simulated customers holding a whole conversation (greeting, document, menu
choices, a payment promise, a handoff...), so every message advances the flow and writes
replies to the outbox. Two measurements per server:

- closed loop: a fixed number of clients send as fast as answers come back: messages/s,
  p50/p99 latency at maximum load;
- open loop: messages sent on a fixed schedule (80/s by default), whatever the answers do;
  latency counts from the scheduled send time, so a slow server cannot hide its queue.

The same two run against a bare Flask handler (benchmarks/bare_app.py) served by gunicorn
with the same workers, options, engine and database, which stores one row per request and
nothing else; the ratio Centralita/bare is what carries from one machine to another. Both
servers run at once and are measured in alternating rounds, so a neighbour's load that comes
and goes weighs on both alike.

    python -m benchmarks.inbound [--databases sqlite,postgresql] [--workers 2,4] [--quick]

Targets (issue 3): ratio ≥ 0.6; ≥ 400 messages/s on PostgreSQL; p99 < 50 ms at 80 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from redis import Redis
from sqlalchemy import func, insert, select

from benchmarks import bare_app
from benchmarks.scratch import postgres_database
from centralita.bot.inputs import normalize_document
from centralita.bot.yamlsrc import load
from centralita.channels.twilio_client import compute_signature
from centralita.core.db import make_engine
from centralita.core.jobs import QUEUE_NAME
from centralita.core.migrate import upgrade
from centralita.core.models import Campaign, Chat, ChatStatus, Customer, Direction, Message, utcnow

TARGET_RATIO = 0.6
TARGET_POSTGRES_RATE = 400.0  # messages/s
TARGET_P99_MS = 50.0  # at the open-loop rate

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
PUBLIC_BASE_URL = "https://centralita.example.com"  # behind a proxy, as deployed
PATH = "/webhooks/twilio/messages"
NUMBER = "whatsapp:+5716001234"
FLOW = "cobranza"
BENCH_DATABASE = "centralita_bench"
EXPECTED_BODY = b"<Response/>"
MIN_IDLE = 0.85  # before each server: less idle CPU than this means someone else is busy
REQUEST_TIMEOUT = 30.0  # seconds; a request slower than this counts as failed
FIRST_NAMES = ["Ana", "Jhon", "Luz", "Carlos", "María", "Andrés", "Paola", "Luis", "Diana", "José"]


# --- Conversations -------------------------------------------------------------------------


def scripts(document: str, date: str, unknown: str) -> list[tuple[int, list[str]]]:
    """Conversations with `cobranza` (weight, messages); every message gets at least one reply."""
    return [
        (25, ["hola", document, "1", "3"]),  # pays online, then "no, thanks": closed
        (25, ["buenas tardes", document, "2", "1", date, "1", "3"]),  # promise of the total
        (15, ["hola", document, "2", "2", "300.000", date, "1", "1", "5"]),  # partial, menu, exit
        (15, ["hola", "no sé", document, "4"]),  # an invalid document, then an agent
        (10, ["hola", document, "3"]),  # already paid: handoff with the receipt
        (5, ["hola", document, "x", "1", "1", "2", "3"]),  # an invalid option, around the menus
        (5, ["hola", unknown, "1", document, "5"]),  # not found, types it again, exits
    ]


@dataclass
class Population:
    """Who writes: the documents of customers in the database, and the dates they promise."""

    documents: list[str]
    promise_date: str  # DD/MM/YYYY, a few days from today in Bogotá (the campaigns' zone)
    rng: random.Random = field(default_factory=lambda: random.Random(3))
    contacts: int = 0

    def conversation(self) -> tuple[dict[str, str], list[str]]:
        self.contacts += 1
        n = self.contacts
        # Every tenth from the US (+1): the flow answers in English.
        phone = f"+1305{n:07d}" if n % 10 == 0 else f"+57310{n:07d}"
        contact = {"From": f"whatsapp:{phone}", "ProfileName": self.rng.choice(FIRST_NAMES)}
        contact["WaId"] = phone[1:]
        choices = scripts(self.rng.choice(self.documents), self.promise_date, "99.999.999")
        texts = self.rng.choices([t for _, t in choices], weights=[w for w, _ in choices])[0]
        return contact, texts


def signed_request(port: int, contact: dict[str, str], text: str) -> bytes:
    """One inbound message as raw HTTP, signed as Twilio signs it."""
    sid = "SM" + uuid.uuid4().hex
    params = {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": contact["ProfileName"],
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": contact["WaId"],
        "SmsStatus": "received",
        "Body": text,
        "To": NUMBER,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": contact["From"],
        "ApiVersion": "2010-04-01",
    }
    body = urlencode(params).encode()
    signature = compute_signature(AUTH_TOKEN, PUBLIC_BASE_URL + PATH, params)
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "User-Agent: TwilioProxy/1.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Twilio-Signature: {signature}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def conversations(population: Population, port: int, messages: int) -> list[list[bytes]]:
    """Signed conversations adding up to at least `messages` requests (built before timing)."""
    out: list[list[bytes]] = []
    total = 0
    while total < messages:
        contact, texts = population.conversation()
        out.append([signed_request(port, contact, text) for text in texts])
        total += len(texts)
    return out


# --- Load ----------------------------------------------------------------------------------


@dataclass
class Measure:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exhausted: bool = False  # the closed loop ran out of prepared requests before its time
    server_cpu: float = 0.0  # CPU seconds the server's workers used during the run
    machine_busy: float = 0.0  # share of the machine's CPU in use during the run, 0 to 1

    @property
    def cpu_ms_per_message(self) -> float:
        return self.server_cpu * 1000 / self.requests if self.requests else float("nan")

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + len(self.failures)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def quantile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


async def _send(port: int, request: bytes) -> str | None:
    """Send one request on a new connection (gunicorn's sync workers close every connection);
    None if the answer is 200 with an empty TwiML response, else what was wrong."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        answer = await reader.read()  # to EOF: the server closes
    finally:
        writer.close()
    status = answer[9:12]
    if status != b"200":
        return f"HTTP {status.decode(errors='replace')}: {answer[-200:]!r}"
    if EXPECTED_BODY not in answer:
        return f"200 without {EXPECTED_BODY.decode()}: {answer[-200:]!r}"
    return None


async def _timed(port: int, request: bytes, began: float, measure: Measure) -> None:
    loop = asyncio.get_running_loop()
    try:
        problem = await asyncio.wait_for(_send(port, request), REQUEST_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is None:
        measure.latencies_ms.append((loop.time() - began) * 1000)
    else:
        measure.failures.append(problem)


async def closed_loop(port: int, pool: list[list[bytes]], clients: int, seconds: float) -> Measure:
    """`clients` customers at once, each sending its next message when the last is answered."""
    loop = asyncio.get_running_loop()
    measure = Measure()
    queue = iter(pool)
    deadline = loop.time() + seconds

    async def client() -> None:
        for conversation in queue:
            for request in conversation:
                if loop.time() >= deadline:
                    return
                await _timed(port, request, loop.time(), measure)
        measure.exhausted = True

    began = loop.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    measure.seconds = loop.time() - began
    return measure


def interleave(pool: list[list[bytes]], lanes: int, count: int) -> list[bytes]:
    """`count` requests in sending order: `lanes` conversations at a time, round robin, so one
    customer's messages are `lanes` slots apart (1 s at 80/s with 80 lanes)."""
    queue = iter(pool)
    active = [iter(next(queue)) for _ in range(lanes)]
    order: list[bytes] = []
    while len(order) < count:
        for i in range(lanes):
            request = next(active[i], None)
            if request is None:
                active[i] = iter(next(queue))
                request = next(active[i])
            order.append(request)
    return order[:count]


async def open_loop(port: int, schedule: list[bytes], rate: float) -> Measure:
    """Send on a fixed schedule; latency counts from when each request was due."""
    loop = asyncio.get_running_loop()
    measure = Measure()
    tasks = []
    start = loop.time() + 0.05
    for i, request in enumerate(schedule):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_timed(port, request, due, measure)))
    await asyncio.gather(*tasks)
    measure.seconds = loop.time() - start
    return measure


# --- CPU accounting (Linux /proc) ----------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def machine_busy(seconds: float) -> float:
    """Share of the machine's CPU in use over the next `seconds`, 0 to 1."""
    busy, total = _machine_ticks()
    time.sleep(seconds)
    busy2, total2 = _machine_ticks()
    return (busy2 - busy) / max(total2 - total, 1)


def accounted(server: Server, run: Coroutine[Any, Any, Measure]) -> Measure:
    """Run a load, noting the CPU the server's workers and the whole machine spent on it."""
    workers = _children(server.process.pid)
    cpu, (busy, total) = _cpu_seconds(workers), _machine_ticks()
    measure = asyncio.run(run)
    busy2, total2 = _machine_ticks()
    measure.server_cpu = _cpu_seconds(workers) - cpu
    measure.machine_busy = (busy2 - busy) / max(total2 - total, 1)
    return measure


# --- Databases and servers -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def fresh_database(
    kind: str, folder: Path, admin_url: str, name: str = BENCH_DATABASE
) -> Iterator[str]:
    """An empty database's URL; the PostgreSQL one is dropped on the way out, whatever happens."""
    if kind == "sqlite":
        path = folder / "centralita-bench.db"
        for stale in folder.glob("centralita-bench.db*"):
            stale.unlink()
        yield f"sqlite:///{path}"
        return
    with postgres_database(admin_url, name) as url:
        yield url


def prepare(url: str, customers: int, env: dict[str, str]) -> list[str]:
    """Schema, campaigns, customers and the number; the documents customers will type."""
    upgrade(url)
    fixtures = load((ROOT / "flows" / "tests" / f"{FLOW}.yaml").read_text("utf-8")).data
    rng = random.Random(7)
    engine = make_engine(url)
    documents: list[str] = []
    try:
        bare_app.metadata.create_all(engine)
        with engine.begin() as conn:
            ids: dict[str, int] = {}
            for campaign in fixtures["campaigns"]:
                ids[campaign["slug"]] = conn.execute(
                    insert(Campaign).returning(Campaign.id),
                    {
                        "slug": campaign["slug"],
                        "name": campaign["name"],
                        "active": campaign.get("active", True),
                    },
                ).scalar_one()
            now = utcnow()
            rows = []
            for c in fixtures["customers"]:
                extra = {
                    k: v for k, v in c.items() if k not in {"campaign", "document", "name", "phone"}
                }
                rows.append(
                    {
                        "campaign_id": ids[c["campaign"]],
                        "document": normalize_document(str(c["document"])),
                        "name": c["name"],
                        "phone": c.get("phone"),
                        "extra": extra,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            active = [c["slug"] for c in fixtures["campaigns"] if c.get("active", True)]
            for number in rng.sample(range(10_000_000, 99_999_999), customers):
                document = f"10{number}"
                campaign = rng.choice(active)
                rows.append(
                    {
                        "campaign_id": ids[campaign],
                        "document": document,
                        "name": f"{rng.choice(FIRST_NAMES).upper()} CLIENTE {number}",
                        "phone": None,
                        "extra": {
                            "saldo": rng.randrange(500_000, 9_000_000, 10_000),
                            "dias_mora": rng.randrange(1, 400),
                        },
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                # Written as customers write them, dots and all, about half the time.
                documents.append(f"{int(document):,}".replace(",", ".") if number % 2 else document)
            conn.execute(insert(Customer), rows)
    finally:
        engine.dispose()
    command = [_executable("centralita"), "numbers", "add", NUMBER, "--flow", FLOW]
    for slug in active:
        command += ["--campaign", slug]
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=60)
    documents.append("1.012.345.678")  # the flow tests' own customer
    return documents


def _executable(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text("utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def start_server(app: str, workers: int, env: dict[str, str], folder: Path) -> Server:
    port = _free_port()
    log = folder / f"{app}-{port}.log"
    if app == "centralita":
        command = [_executable("centralita"), "serve"]
    else:
        command = [sys.executable, "-m", "benchmarks.bare_app"]
    # The webhook tier: sync workers (`--threads 1`), both servers alike.
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--threads", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its workers
        )  # fmt: skip
    server = Server(app, process, port, log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with {process.returncode}:\n{server.tail()}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return server
                finally:
                    conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"{app} did not answer /healthz within 30 s:\n{server.tail()}")
    except BaseException:  # KeyboardInterrupt included: never leave a server behind
        stop_server(server)
        raise


def stop_server(server: Server) -> None:
    """Gunicorn's graceful stop (TERM), then KILL to its process group if it lingers."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # a worker left behind by a crashed master
        os.killpg(process.pid, signal.SIGKILL)


# --- One server, measured ------------------------------------------------------------------


@dataclass
class Run:
    closed: Measure
    open: Measure
    sent: int  # every request, warm-up included
    problems: list[str]  # correctness: failed requests, missing rows or jobs
    warnings: list[str]  # circumstances: a machine busy with something else
    facts: str = ""


APPS = ("centralita", "bare")


def merge(measures: list[Measure]) -> Measure:
    """Rounds of one server as one measurement."""
    seconds = sum(m.seconds for m in measures)
    return Measure(
        latencies_ms=[x for m in measures for x in m.latencies_ms],
        failures=[x for m in measures for x in m.failures],
        seconds=seconds,
        exhausted=any(m.exhausted for m in measures),
        server_cpu=sum(m.server_cpu for m in measures),
        machine_busy=sum(m.machine_busy * m.seconds for m in measures) / seconds if seconds else 0,
    )


def measure_pair(
    workers: int,
    env: dict[str, str],
    folder: Path,
    population: Population,
    args: argparse.Namespace,
) -> dict[str, Run]:
    """Centralita and the bare handler, both served at once and measured in alternating
    rounds (Centralita then bare, then bare then Centralita...): whatever else the machine
    runs weighs on both alike, where two servers measured one after the other could meet a
    busy minute and a quiet one, and the ratio would measure the neighbours."""
    # Before anything of ours runs: is someone else using the CPU? Wait a little for them.
    idle = 1 - machine_busy(1.0)
    deadline = time.monotonic() + args.wait_idle
    while idle < MIN_IDLE and time.monotonic() < deadline:
        idle = 1 - machine_busy(2.0)
    rounds = args.rounds
    clients = args.clients or 2 * workers
    per_round = int(args.rate * args.open_seconds / rounds)
    servers: dict[str, Server] = {}
    closed: dict[str, list[Measure]] = {app: [] for app in APPS}
    opened: dict[str, list[Measure]] = {app: [] for app in APPS}
    warm_up: dict[str, Measure] = {}
    try:
        for app in APPS:
            servers[app] = start_server(app, workers, env, folder)
        # Everything signed before the clock starts: the load generator shares the 2 cores.
        warm, pools, schedules = {}, {}, {}
        for app, server in servers.items():
            port = server.port
            warm[app] = conversations(population, port, clients * 12)
            pools[app] = [
                conversations(population, port, int(args.seconds / rounds * args.max_rate))
                for _ in range(rounds)
            ]
            # One schedule cut into rounds: each customer goes on writing once a second.
            count = per_round * rounds
            schedule = interleave(conversations(population, port, count * 2), int(args.rate), count)
            schedules[app] = [schedule[i * per_round : (i + 1) * per_round] for i in range(rounds)]
        for app, server in servers.items():
            warm_up[app] = asyncio.run(closed_loop(server.port, warm[app], clients, args.warmup))
        for i in range(rounds):
            order = APPS if i % 2 == 0 else APPS[::-1]
            for app in order:
                server = servers[app]
                load = closed_loop(server.port, pools[app][i], clients, args.seconds / rounds)
                closed[app].append(accounted(server, load))
            for app in order:
                server = servers[app]
                opened[app].append(
                    accounted(server, open_loop(server.port, schedules[app][i], args.rate))
                )
    finally:
        for server in servers.values():
            stop_server(server)
    runs: dict[str, Run] = {}
    for app in APPS:
        measures = [warm_up[app], *closed[app], *opened[app]]
        sent = sum(m.requests for m in measures)
        problems = [f"{len(m.failures)} failed, e.g. {m.failures[0]}" for m in measures
                    if m.failures]  # fmt: skip
        if any(m.exhausted for m in closed[app]):
            problems.append("the closed loop ran out of prepared requests: raise --max-rate")
        warnings = []
        if idle < MIN_IDLE:
            warnings.append(
                f"the machine was only {idle:.0%} idle before these servers started: "
                "another program was using the CPU, these figures are low"
            )
        run = Run(merge(closed[app]), merge(opened[app]), sent, problems, warnings)
        verify(app, env, run)
        runs[app] = run
    return runs


def verify(app: str, env: dict[str, str], run: Run) -> None:
    """Every request stored once; Centralita's replies in the outbox and on the RQ queue."""
    engine = make_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            if app == "bare":
                stored = conn.scalar(select(func.count()).select_from(bare_app.bare_messages))
                if stored != run.sent:
                    run.problems.append(f"{stored} rows stored for {run.sent} requests")
                run.facts = f"{stored} rows"
                return
            inbound = conn.scalar(
                select(func.count()).select_from(Message).where(Message.direction == Direction.IN)
            )
            replies = conn.execute(
                select(Message.id, Message.chat_id, Message.created_at).where(
                    Message.direction == Direction.OUT
                )
            ).all()
            outbox = {message_id for message_id, _, _ in replies}
            # The replies to one message share its chat and its time: the first row of each.
            first_reply: dict[tuple[int, Any], int] = {}
            for message_id, chat_id, at in replies:
                turn = (chat_id, at)
                first_reply[turn] = min(message_id, first_reply.get(turn, message_id))
            outbound = len(outbox)
            by_status: dict[str, int] = {
                str(status): count
                for status, count in conn.execute(
                    select(Chat.status, func.count()).group_by(Chat.status)
                )
            }
            identified = conn.scalar(
                select(func.count()).select_from(Chat).where(Chat.customer_id.is_not(None))
            )
    finally:
        engine.dispose()
    redis = Redis.from_url(env["REDIS_URL"])
    try:
        sends, others = queued_jobs(redis)
    finally:
        redis.close()
    inbound, outbound = inbound or 0, outbound or 0
    if inbound != run.sent:
        run.problems.append(f"{inbound} inbound messages stored for {run.sent} requests")
    if outbound < inbound:  # every scripted message gets at least one reply
        run.problems.append(f"only {outbound} replies in the outbox for {inbound} messages")
    queued = len(sends)
    # The outbox sends a chat's messages one after the other, each sent (or failed) one
    # enqueueing the chat's next pending one, so every row will be sent when the first of each
    # message's replies has a job; exactly those rows must have one, each once.
    firsts = set(first_reply.values())
    if sorted(sends) != sorted(firsts):
        run.problems.append(
            f"{queued} send jobs on the queue for the replies to {len(firsts)} messages: "
            f"{len(firsts - set(sends))} without a job, {len(set(sends) - firsts)} jobs for "
            f"other rows, {queued - len(set(sends))} repeated"
        )
    chats = sum(by_status.values())
    closed = by_status.get(ChatStatus.CLOSED.value, 0)
    handed = by_status.get(ChatStatus.WAITING_QUEUE.value, 0)
    other_jobs = ", ".join(f"{n} {f}" for f, n in others.items()) or "none"
    run.facts = (
        f"{inbound} in, {outbound} replies in the outbox, {queued} send jobs queued (one per "
        f"message, for its first reply), other jobs: {other_jobs}; "
        f"{chats} chats ({identified} identified, {closed} closed, {handed} handed to agents)"
    )


SEND_JOB = "centralita.channels.outbox.send_message_job"


def queued_jobs(redis: Redis) -> tuple[list[int], dict[str, int]]:
    """The message ids of the send jobs on the queue (one per job), and how many other jobs
    there are by function (transcripts of the chats the bot closed...)."""
    ids: list[bytes] = redis.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1)  # type: ignore[assignment]
    with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(f"rq:job:{job_id.decode()}", "description")
        descriptions = [d.decode() for d in pipe.execute()]
    sends: list[int] = []
    others: dict[str, int] = {}
    for description in descriptions:  # e.g. centralita.channels.outbox.send_message_job(42)
        name, _, args = description.partition("(")
        if name == SEND_JOB:
            sends.append(int(args.rstrip(")")))
        else:
            short = name.rsplit(".", 1)[-1]
            others[short] = others.get(short, 0) + 1
    return sends, others


# --- Report --------------------------------------------------------------------------------


def describe(title: str, run: Run, rate: float) -> str:
    closed, opened = run.closed, run.open
    lines = [
        f"{title}: {closed.rate:,.0f} msg/s ({closed.requests} in {closed.seconds:.1f} s), "
        f"p50/p99 {_ms(closed)} ms, {closed.cpu_ms_per_message:.2f} ms of worker CPU per "
        f"message, machine {closed.machine_busy:.0%} busy; at {rate:.0f}/s p50/p99 "
        f"{_ms(opened)} ms, machine {opened.machine_busy:.0%} busy",
        f"  {run.facts}",
    ]
    lines += [f"  PROBLEM: {p}" for p in run.problems]
    lines += [f"  WARNING: {w}" for w in run.warnings]
    return "\n".join(lines)


@dataclass
class Row:
    database: str
    workers: int
    centralita: Run
    bare: Run

    @property
    def ratio(self) -> float:
        return self.centralita.closed.rate / self.bare.closed.rate if self.bare.closed.rate else 0

    def targets(self) -> dict[str, bool | None]:
        return {
            "ratio": self.ratio >= TARGET_RATIO,
            "rate": self.centralita.closed.rate >= TARGET_POSTGRES_RATE
            if self.database == "postgresql"
            else None,
            "p99": self.centralita.open.quantile(99) < TARGET_P99_MS,
        }


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def _ms(m: Measure) -> str:
    return f"{m.quantile(50):.1f} / {m.quantile(99):.1f}"


def report(rows: list[Row], rate: float) -> str:
    lines = [
        f"| database | workers | Centralita msg/s | bare msg/s | ratio | p50 / p99 ms at max "
        f"| p50 / p99 ms at {rate:.0f}/s | ratio ≥ {TARGET_RATIO} | ≥ {TARGET_POSTGRES_RATE:.0f}/s "
        f"on PG | p99 < {TARGET_P99_MS:.0f} ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r.targets()
        lines.append(
            f"| {r.database} | {r.workers} | {r.centralita.closed.rate:,.0f} "
            f"| {r.bare.closed.rate:,.0f} | {r.ratio:.2f} | {_ms(r.centralita.closed)} "
            f"| {_ms(r.centralita.open)} | {_mark(t['ratio'])} | {_mark(t['rate'])} "
            f"| {_mark(t['p99'])} |"
        )
    lines += [
        "",
        f"| database | workers | worker CPU ms/msg, Centralita / bare | machine busy at max "
        f"| bare p50 / p99 ms at max | bare p50 / p99 ms at {rate:.0f}/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, b = r.centralita, r.bare
        lines.append(
            f"| {r.database} | {r.workers} | {c.closed.cpu_ms_per_message:.2f} / "
            f"{b.closed.cpu_ms_per_message:.2f} | {c.closed.machine_busy:.0%} / "
            f"{b.closed.machine_busy:.0%} | {_ms(b.closed)} | {_ms(b.open)} |"
        )
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--workers", default="2,4", help="gunicorn worker counts, e.g. 2,4")
    parser.add_argument("--seconds", type=float, default=8.0, help="closed-loop run length")
    parser.add_argument("--open-seconds", type=float, default=10.0, help="open-loop run length")
    parser.add_argument("--rate", type=float, default=80.0, help="open-loop messages/s")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server")
    parser.add_argument("--clients", type=int, default=0, help="closed-loop clients (2×workers)")
    parser.add_argument("--customers", type=int, default=3000, help="generated customers")
    parser.add_argument(
        "--max-rate", type=float, default=2000.0, help="closed-loop requests prepared per second"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating rounds the runs are cut into"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs: 3 s, 4 s, 1 s warm-up, 2 rounds"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=30.0,
        help="before each server, wait up to this many seconds for other programs to leave "
        f"the CPU at least {MIN_IDLE * 100:.0f}%% idle",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"),
        help=f"a PostgreSQL to create (and drop) the database {BENCH_DATABASE} in",
    )  # fmt: skip
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="a Redis database of its own: it is flushed before each server",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.open_seconds, args.warmup, args.rounds = 3.0, 4.0, 1.0, 2
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if set(databases) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite and/or postgresql")

    cpu = platform.processor() or platform.machine()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {cpu}, {os.cpu_count()} cores, {python}, {platform.system()} "
          f"{platform.release()}")  # fmt: skip
    print(
        f"load: closed loop {args.seconds:.0f} s with 2×workers clients, open loop "
        f"{args.rate:.0f}/s for {args.open_seconds:.0f} s, {args.warmup:.0f} s warm-up; "
        f"{args.customers:,} customers; flow {FLOW}; code in {ROOT}",
        flush=True,
    )
    today = datetime.now(ZoneInfo("America/Bogota")).date()
    promise = (today + timedelta(days=3)).strftime("%d/%m/%Y")

    rows: list[Row] = []
    redis = Redis.from_url(args.redis_url)
    began = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="centralita-bench-") as tmp:
            folder = Path(tmp)
            for database in databases:
                for workers in worker_counts:
                    with fresh_database(database, folder, args.postgres_url) as url:
                        env = {
                            **{k: v for k, v in os.environ.items() if k != "DEFAULT_FLOW"},
                            "DATABASE_URL": url,
                            "REDIS_URL": args.redis_url,
                            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
                            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                            "FLOWS_DIR": str(ROOT / "flows"),
                            # The servers run this tree's code, whatever the venv points at.
                            "PYTHONPATH": os.pathsep.join(
                                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                            ),
                        }
                        population = Population(prepare(url, args.customers, env), promise)
                        redis.flushdb()
                        runs = measure_pair(workers, env, folder, population, args)
                        for app, run in runs.items():
                            print(describe(f"{database}, {workers} workers, {app}", run, args.rate))
                        rows.append(Row(database, workers, runs["centralita"], runs["bare"]))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(Exception):
            redis.flushdb()
        redis.close()

    print(f"\n{time.monotonic() - began:.0f} s in all\n")
    print(report(rows, args.rate))
    correct = all(not r.centralita.problems and not r.bare.problems for r in rows)
    met = all(ok is not False for r in rows for ok in r.targets().values())
    busy = any(r.centralita.warnings or r.bare.warnings for r in rows)
    print("\ncorrectness: " + ("every request answered and stored" if correct else "PROBLEMS"))
    if busy:
        print("WARNING: the machine was busy with something else during some runs (see above)")
    print("result: " + ("within targets" if met else "OVER TARGET"))
    return 0 if correct and met else 1


if __name__ == "__main__":
    sys.exit(main())
