"""Which flow and campaigns serve an inbound message's `To`: read for every message, changed
only by `centralita numbers add`, so each process keeps what it read for a few seconds.

A change made with `numbers add` reaches every web process within `TTL` seconds; until then
a process may route a message to the number's previous flow or campaigns, exactly as if the
message had arrived a moment before the change. A number not (yet) added is never
remembered: adding one takes effect on its next message.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, select

from centralita.core.models import Campaign, SenderNumber, sender_number_campaigns

TTL = 5.0  # seconds

_numbers = SenderNumber.__table__
_campaigns = Campaign.__table__
# One query for the number's flow and campaign slugs, ordered as the relationship is. Built
# once: SQLAlchemy then finds its compiled form in the cache without rebuilding the statement.
_ROUTE = (
    select(_numbers.c.flow_id, _campaigns.c.slug)
    .outerjoin(sender_number_campaigns, sender_number_campaigns.c.number_id == _numbers.c.id)
    .outerjoin(_campaigns, _campaigns.c.id == sender_number_campaigns.c.campaign_id)
    .where(_numbers.c.address == bindparam("address"))
    .order_by(_campaigns.c.slug)
)


@dataclass(frozen=True)
class Route:
    flow_id: str
    campaigns: list[str] | None  # None: every campaign


class _Remembered:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.routes: dict[str, tuple[float, Route]] = {}


# Per engine (one database), so tests with their own databases never see each other's numbers.
_by_engine: weakref.WeakKeyDictionary[Engine, _Remembered] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def route(conn: Connection, address: str) -> Route | None:
    """The number's route, from this process's memory if read less than TTL seconds ago."""
    with _lock:
        remembered = _by_engine.get(conn.engine)
        if remembered is None:
            remembered = _by_engine[conn.engine] = _Remembered()
    now = time.monotonic()
    with remembered.lock:
        found = remembered.routes.get(address)
    if found is not None and now - found[0] < TTL:
        return found[1]
    rows = conn.execute(_ROUTE, {"address": address}).all()
    if not rows:
        return None
    slugs = [slug for _flow, slug in rows if slug is not None]
    result = Route(rows[0][0], slugs or None)
    with remembered.lock:
        remembered.routes[address] = (now, result)
    return result
