"""What a Centralita process shares: settings, database, Redis, flows, jobs, the transport.

The web app builds one at start-up and installs it; an RQ worker process builds its own from
the environment the first time a job asks (`current()`). Job functions reach their runtime
here instead of through a Flask request, so they run the same in a worker, in a thread of the
web process, or inline in a test.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from centralita.bot.engine import Engine as BotEngine
from centralita.bot.loader import FlowLibrary
from centralita.channels.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from centralita.channels.transport import ConsoleTransport, Transport
from centralita.core import events
from centralita.core.db import make_engine, session_factory
from centralita.core.flowstore import StoredFlows
from centralita.core.jobs import InlineJobs, Jobs, RQJobs, ThreadJobs
from centralita.core.lookup import DatabaseDirectory
from centralita.core.settings import Settings

# Enqueueing and publishing must fail fast when Redis is down, not hang a webhook.
REDIS_TIMEOUT = 2.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis | None
    flows: StoredFlows
    jobs: Jobs
    transport: Transport
    limiter: RateLimiter
    bot: BotEngine = field(init=False)

    def __post_init__(self) -> None:
        self.bot = BotEngine(self.flows, DatabaseDirectory(self.sessions))
        # Live events for the web pages, published after commits (core/events.py).
        events.attach(self.engine, self.redis)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        jobs: Jobs | None = None,
        transport: Transport | None = None,
        engine: Engine | None = None,
    ) -> Runtime:
        engine = engine or make_engine(settings.database_url)
        sessions = session_factory(engine)
        redis = None
        if settings.redis_url:
            redis = Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=REDIS_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT,
            )
        if jobs is None:
            jobs = RQJobs(redis) if redis is not None else ThreadJobs()
        if transport is None:
            transport = _transport(settings)
        flows = StoredFlows(FlowLibrary(settings.flows_dir), sessions)
        limiter = RedisRateLimiter(redis) if redis is not None else MemoryRateLimiter()
        return cls(settings, engine, sessions, redis, flows, jobs, transport, limiter)

    @classmethod
    def for_tests(cls, settings: Settings, transport: Transport | None = None) -> Runtime:
        """Jobs run inline, messages go to the console transport unless one is given."""
        return cls.build(settings, jobs=InlineJobs(), transport=transport or ConsoleTransport())


def _transport(settings: Settings) -> Transport:
    if not settings.twilio_enabled:
        return ConsoleTransport()
    from centralita.channels.twilio_transport import TwilioTransport

    assert settings.twilio_account_sid and settings.twilio_auth_token
    return TwilioTransport(
        settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base_url
    )


_installed: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime | None) -> None:
    global _installed
    with _lock:
        _installed = runtime


def current() -> Runtime:
    """The process's runtime; a worker builds it from the environment on first use."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = Runtime.build(Settings.from_env())
        return _installed
