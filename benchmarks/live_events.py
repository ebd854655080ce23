"""Live updates: how long from a customer's message reaching the webhook to the event arriving
at the agent's open page (Server-Sent Events), in process and through Redis.

The app runs on a real server thread (SQLite in a temporary folder), an agent signs in and
opens the event stream like the inbox page does, and inbound webhooks for a chat assigned to
them are posted one at a time; each latency counts from the POST to the event's `data:` line.

    python -m benchmarks.live_events [--messages 50] [--redis redis://127.0.0.1:6379/15]

Target (issue 6): new messages appear within a second.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from werkzeug.security import generate_password_hash

from centralita.core.db import make_engine
from centralita.core.jobs import InlineJobs
from centralita.core.models import (
    Base,
    Campaign,
    Chat,
    ChatStatus,
    Contact,
    Presence,
    SenderNumber,
    User,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.devtools.server import BackgroundServer
from centralita.devtools.twilio_inbound import inbound_params
from centralita.web import create_app

NUMBER = "whatsapp:+5716001234"
CUSTOMER = "whatsapp:+573001112233"
PASSWORD = "benchmark-password"


def _runtime(folder: Path, redis_url: str | None) -> Runtime:
    url = f"sqlite:///{folder / 'live.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = Settings(secret_key="bench", database_url=url, redis_url=redis_url, flows_dir=folder)
    rt = Runtime.build(settings, jobs=InlineJobs())
    with rt.sessions.begin() as session:
        campaign = Campaign(slug="castigada", name="Cartera castigada")
        contact = Contact(address=CUSTOMER, phone=CUSTOMER[9:], channel="whatsapp")
        agent = User(
            email="ana@x.co",
            name="Ana",
            role="agent",
            password_hash=generate_password_hash(PASSWORD),
            presence=Presence.ONLINE,
            campaigns=[campaign],
        )
        session.add_all([campaign, contact, agent])
        session.flush()
        session.add(SenderNumber(address=NUMBER, flow_id="none", campaigns=[campaign]))
        session.add(
            Chat(
                contact_id=contact.id,
                number=NUMBER,
                status=ChatStatus.ASSIGNED,
                campaign_id=campaign.id,
                agent_id=agent.id,
            )
        )
    return rt


def measure(messages: int, redis_url: str | None) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        rt = _runtime(Path(tmp), redis_url)
        server = BackgroundServer(create_app(runtime=rt))
        http = requests.Session()
        try:
            page = http.get(f"{server.base_url}/login", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token is not None
            http.post(
                f"{server.base_url}/login",
                data={"email": "ana@x.co", "password": PASSWORD, "csrf_token": token.group(1)},
                allow_redirects=False,
                timeout=10,
            )
            stream = http.get(f"{server.base_url}/events", stream=True, timeout=30)
            arrivals: list[float] = []

            def read() -> None:
                try:
                    for line in stream.iter_lines():
                        if line.startswith(b"data:"):
                            arrivals.append(time.perf_counter())
                except (requests.RequestException, AttributeError, ValueError):
                    pass  # the stream is closed at the end

            threading.Thread(target=read, daemon=True).start()
            time.sleep(0.5)
            latencies = []
            for i in range(messages):
                seen = len(arrivals)
                started = time.perf_counter()
                params = inbound_params(
                    account_sid="AC" + "0" * 32, from_=CUSTOMER, to=NUMBER, body=f"mensaje {i}"
                )
                requests.post(
                    f"{server.base_url}/webhooks/twilio/messages", data=params, timeout=10
                )
                while len(arrivals) == seen and time.perf_counter() - started < 5:
                    time.sleep(0.0005)
                latencies.append((arrivals[-1] - started) * 1000 if len(arrivals) > seen else 5000)
            stream.close()
            return latencies
        finally:
            http.close()
            server.stop()
            rt.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--redis", default=None, help="also measure through this Redis")
    args = parser.parse_args()
    for label, redis_url in [("in-process", None), ("redis", args.redis)]:
        if label == "redis" and redis_url is None:
            continue
        latencies = sorted(measure(args.messages, redis_url))
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"{label:>10}: webhook POST -> event at the agent's page: "
            f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
            f"max {latencies[-1]:.1f} ms ({len(latencies)} messages; target: under 1000 ms)"
        )


if __name__ == "__main__":
    main()
