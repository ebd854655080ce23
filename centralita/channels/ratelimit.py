"""Messages per second per sender number, across every worker (Redis) or in this process."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError


class RateLimiter(Protocol):
    def acquire(self, sender: str, per_second: int) -> bool:
        """Take one send from this second's allowance; False when it is used up."""
        ...


class RedisRateLimiter:
    """A counter per sender and second: INCR is atomic, so workers share one allowance."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def acquire(self, sender: str, per_second: int) -> bool:
        key = f"centralita:rate:{sender}:{int(time.time())}"
        try:
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, 2)
            count, _ = pipe.execute()
        except RedisError:
            return True  # never stop sending because the limiter is down; Twilio queues too
        return int(count) <= per_second


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window: dict[str, tuple[int, int]] = {}

    def acquire(self, sender: str, per_second: int) -> bool:
        second = int(time.time())
        with self._lock:
            start, count = self._window.get(sender, (second, 0))
            if start != second:
                start, count = second, 0
            if count >= per_second:
                return False
            self._window[sender] = (start, count + 1)
            return True
