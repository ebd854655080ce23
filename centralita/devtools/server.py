"""Run a WSGI app (a Flask app) in a background thread, for tests, benchmarks and tools."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (tests would drown in them)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class BackgroundServer:
    """`app` served by werkzeug's threaded server on `host`; port 0 lets the OS choose one.

    Starts at once; `base_url` is `http://host:port`. `stop()` (or leaving the `with` block)
    shuts it down and waits for the serving thread.
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, quiet: bool = True
    ) -> None:
        handler = _QuietHandler if quiet else None
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=handler
        )
        self.host = host
        self.port = self._server.server_port
        self.base_url = f"http://{host}:{self.port}"
        # serve_forever checks for shutdown every poll_interval: the default 0.5 s would be
        # the cost of every stop().
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"server:{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
