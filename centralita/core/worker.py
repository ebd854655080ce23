"""`centralita worker`: RQ's worker for the jobs, plus the periodic sweep in a thread.

Several workers may run: the sweep is safe to run concurrently (row locks with SKIP LOCKED,
unique alert keys), so each worker sweeps and none needs to be special.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from centralita.core import runtime as runtimes
from centralita.core.jobs import QUEUE_NAME
from centralita.core.runtime import Runtime
from centralita.core.sweep import sweep

log = logging.getLogger(__name__)


def _sweep_forever(rt: Runtime, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            report = sweep(rt, datetime.now(UTC))
            log.info("sweep: %s", "; ".join(report.lines()))
        except Exception:  # a sweep boundary: log, and try again next time
            log.exception("sweep failed")


def run_worker(rt: Runtime, *, sweep_every: float = 30.0, burst: bool = False) -> None:
    runtimes.install(rt)  # jobs run in this process and find the runtime here
    assert rt.redis is not None
    queue = Queue(QUEUE_NAME, connection=rt.redis, serializer=JSONSerializer)
    stop = threading.Event()
    if burst:
        sweep(rt, datetime.now(UTC))
    else:
        threading.Thread(
            target=_sweep_forever, args=(rt, sweep_every, stop), name="sweep", daemon=True
        ).start()
    try:
        # SimpleWorker runs jobs in this process instead of a fork per job: the jobs are short
        # database-and-HTTP calls, and a forked child would share the parent's pooled database
        # connections, which SQLAlchemy forbids.
        SimpleWorker([queue], connection=rt.redis, serializer=JSONSerializer).work(
            burst=burst, with_scheduler=True, logging_level="WARNING"
        )
    finally:
        stop.set()
