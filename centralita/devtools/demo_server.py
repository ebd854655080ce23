"""The demo's one process: the web app on werkzeug's threaded server, jobs in a thread, and
the periodic sweep (what `centralita worker` does in production) in another.

One process on purpose: the demo runs on SQLite without Redis, where background jobs live in
the web process (ThreadJobs), so a second process would not see them. Threads, not workers:
live pages (Server-Sent Events) hold a connection open each.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from werkzeug.serving import BaseWSGIServer, make_server

from centralita.channels.transport import ConsoleTransport
from centralita.core.jobs import ThreadJobs
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.sweep import sweep

log = logging.getLogger(__name__)

SWEEP_EVERY = 15.0  # seconds; timers are minutes long, this keeps the demo lively


class DemoServer:
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        from centralita.web import create_app

        # The console transport even with Twilio credentials in the environment: the demo's
        # customers are made up, and a message to one of them must never reach a real phone.
        # Jobs in this process even with REDIS_URL set: there is no worker in the demo.
        self.runtime = Runtime.build(settings, jobs=ThreadJobs(), transport=ConsoleTransport())
        self.app = create_app(runtime=self.runtime)
        # OSError (address in use) surfaces here, before anything is printed as ready.
        self.server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self.port = self.server.server_port
        self.stop_sweeping = threading.Event()

    def serve_forever(self) -> None:
        sweeper = threading.Thread(target=self._sweep_forever, name="demo-sweep", daemon=True)
        sweeper.start()
        try:
            self.server.serve_forever()
        finally:
            self.stop_sweeping.set()
            self.server.server_close()
            self.runtime.engine.dispose()

    def shutdown(self) -> None:
        self.server.shutdown()

    def _sweep_forever(self) -> None:
        while not self.stop_sweeping.wait(SWEEP_EVERY):
            try:
                sweep(self.runtime, datetime.now(UTC))
            except Exception:  # a sweep boundary: log, and try again next time
                log.exception("demo sweep failed")
