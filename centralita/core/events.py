"""Live events for the web pages: published once a transaction commits, never before.

Domain actions call `publish_after_commit(session, Event(...))` inside their transaction; the
event goes out only if that transaction commits (a rolled-back change announces nothing).
Events carry ids, never content: a page that hears one asks the server for what changed, and
the server checks what that person may see. Who hears an event is decided by its `agent_ids`
(agents), `campaign_id` (supervisors of that campaign) and admins hear everything.

Where events go is per database engine (`attach`): through Redis pub/sub when REDIS_URL is
set, so every web process hears what any process or worker published; in-process otherwise
(the demo, one process). Nothing here is the only copy of anything: a lost event only delays
a page until its next refresh.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

_PENDING = "centralita_events"
_HELD = "centralita_events_held"  # hold_events: committed events kept for the caller
# A listener that stops reading (a stuck browser tab) loses events past this, not memory.
QUEUE_SIZE = 1000
# After Redis fails, events are dropped for this long instead of each commit waiting.
PAUSE_AFTER_FAILURE = 5.0


@dataclass(frozen=True)
class Event:
    kind: str  # message | status | chat | alert
    chat_id: int | None = None
    campaign_id: int | None = None
    agent_ids: tuple[int, ...] = ()  # the agents concerned (the chat's, and a previous one)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        # Spelled out: `asdict` deep-copies `data` first (every inbound message publishes one).
        return json.dumps(
            {
                "kind": self.kind,
                "chat_id": self.chat_id,
                "campaign_id": self.campaign_id,
                "agent_ids": list(self.agent_ids),
                "data": self.data,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(
            kind=str(raw["kind"]),
            chat_id=raw.get("chat_id"),
            campaign_id=raw.get("campaign_id"),
            agent_ids=tuple(int(a) for a in raw.get("agent_ids") or ()),
            data=dict(raw.get("data") or {}),
        )


class Subscription:
    """One listener's queue; `get` waits at most `timeout` seconds (None when nothing came)."""

    def __init__(self, broker: LocalBroker) -> None:
        self._broker = broker
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=QUEUE_SIZE)

    def put(self, item: Event) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            log.warning("a live-event listener fell behind; an event was dropped")

    def get(self, timeout: float) -> Event | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._broker.unsubscribe(self)


class LocalBroker:
    """Events within this process: every subscriber gets its own copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()

    def publish(self, item: Event) -> None:
        self.deliver(item)

    def publish_many(self, items: list[Event]) -> None:
        """A transaction's events, in order (a sweep's batch commits hundreds)."""
        self.deliver_many(items)

    def deliver(self, item: Event) -> None:
        self.deliver_many([item])

    def deliver_many(self, items: list[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            for item in items:
                subscriber.put(item)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)


class RedisBroker(LocalBroker):
    """Publishes on a Redis channel; one thread per process listens and hands the events to
    this process's subscribers (one Redis connection however many pages are open)."""

    def __init__(self, redis: Redis) -> None:
        super().__init__()
        self.redis = redis
        kwargs = redis.connection_pool.connection_kwargs
        # Redis pub/sub ignores the database number: name the channel after it, so two
        # deployments (or two test runs) on one Redis do not hear each other.
        self.channel = f"centralita:{kwargs.get('db', 0)}:events"
        # A transaction's many events (a sweep's batch: 500) go as one message, a JSON array,
        # on a channel of their own: one PUBLISH instead of 500 to pack and answer, and a
        # listener of an older version, which expects one event per message, is not sent
        # what it cannot read (it misses them: a page then waits for its next refresh).
        self.batch_channel = f"{self.channel}:many"
        self._listener: threading.Thread | None = None
        self._down_until = 0.0
        self._ready = threading.Event()

    def publish(self, item: Event) -> None:
        self.publish_many([item])

    def publish_many(self, items: list[Event]) -> None:
        """In one message: a sweep's batch of 500 closes commits 500 events."""
        if self.paused() or not items:
            return  # Redis just failed: do not make every commit wait for its timeout
        try:
            if len(items) == 1:
                self.redis.publish(self.channel, items[0].to_json())
            else:
                batch = "[" + ",".join(item.to_json() for item in items) + "]"
                self.redis.publish(self.batch_channel, batch)
        except RedisError as exc:  # the change is committed; only the live update is lost
            self.failed(exc)

    def paused(self) -> bool:
        return time.monotonic() < self._down_until

    def failed(self, exc: RedisError) -> None:
        """Publishing failed: pause live events for a while (callers that publish through
        their own pipeline report their failure here)."""
        self._down_until = time.monotonic() + PAUSE_AFTER_FAILURE
        log.warning("live events paused for %.0f s (Redis: %s)", PAUSE_AFTER_FAILURE, exc)

    def subscribe(self) -> Subscription:
        subscription = super().subscribe()
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="centralita-events", daemon=True
                )
                self._listener.start()
        # Events published before the listener subscribed would be missed: wait (briefly)
        # until it has.
        self._ready.wait(timeout=2.0)
        return subscription

    def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel, self.batch_channel)
                self._ready.set()
                while True:
                    message = pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    if channel == self.batch_channel:
                        self.deliver_many([Event.from_dict(r) for r in json.loads(message["data"])])
                    else:
                        self.deliver(Event.from_json(message["data"]))
            except (RedisError, ValueError, KeyError, TypeError) as exc:
                log.warning("live events: listener restarting after %s", exc)
                time.sleep(1.0)
            finally:
                pubsub.close()


_brokers: weakref.WeakKeyDictionary[Engine, LocalBroker] = weakref.WeakKeyDictionary()
_brokers_lock = threading.Lock()


def attach(engine: Engine, redis: Redis | None) -> LocalBroker:
    """The broker for sessions on `engine` (made once): Redis's when given, else in-process."""
    with _brokers_lock:
        found = _brokers.get(engine)
        if found is None:
            found = RedisBroker(redis) if redis is not None else LocalBroker()
            _brokers[engine] = found
        return found


def broker_for(engine: Engine) -> LocalBroker | None:
    return _brokers.get(engine)


class ChatLike(Protocol):
    id: int
    campaign_id: int | None
    agent_id: int | None


def publish_after_commit(session: Session, item: Event | Callable[[], Event]) -> None:
    """Publish `item` once the session's transaction commits; never if it rolls back. A
    callable is called just before the commit, to describe the data as it is committed."""
    session.info.setdefault(_PENDING, []).append(item)


def publish_all_after_commit(session: Session, items: list[Event]) -> None:
    """`publish_after_commit` for many events at once (a batch of closes or alerts)."""
    session.info.setdefault(_PENDING, []).extend(items)


def chat_event(
    kind: str, chat: ChatLike, *, previous_agent_id: int | None = None, **data: Any
) -> Callable[[], Event]:
    """An event about `chat`, naming its campaign and agent as they are at the commit (the
    same transaction may still assign it), and the agent it was taken from, if any."""

    def build() -> Event:
        agents = (chat.agent_id, previous_agent_id)
        return Event(
            kind,
            chat_id=chat.id,
            campaign_id=chat.campaign_id,
            agent_ids=tuple(dict.fromkeys(a for a in agents if a is not None)),
            data=data,
        )

    return build


def hold_events(session: Session) -> None:
    """Keep the events of the session's next commit for the caller (`held_events`) instead of
    publishing them: the inbound webhook sends them with its jobs, in one Redis round trip."""
    session.info[_HELD] = []


def held_events(session: Session) -> list[Event]:
    """The events the session's commit would have published (after `hold_events`)."""
    held: list[Event] = session.info.pop(_HELD, [])
    return held


@event.listens_for(Session, "before_commit")
def _describe_pending(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item if isinstance(item, Event) else item() for item in pending]


@event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    pending: list[Event] = session.info.pop(_PENDING, [])
    if not pending:
        return
    held = session.info.get(_HELD)
    if held is not None:
        held.extend(pending)
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    broker = _brokers.get(engine)
    if broker is None:  # a command-line tool: no page is listening
        return
    broker.publish_many(pending)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    # After a commit the list is already gone; after a rollback it must not leak into the
    # session's next transaction.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
