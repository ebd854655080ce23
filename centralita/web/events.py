"""Server-Sent Events: `GET /events` streams the live events (core/events.py) this person may
see, as `event: KIND` / `data: {"kind", "chat_id", ...}` (ids only; the page fetches what
changed, through views that check access again).

A stream holds no database connection: the sign-in is checked when it opens, then every
`RECHECK_SECONDS` with one short read (a sign-out, a deactivation or an expiry ends the stream
then, not two minutes later). It ends after `STREAM_SECONDS` and the browser reconnects by
itself (EventSource), which checks the sign-in again; an expired or ended one gets 401.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from flask import Blueprint, Response, abort, request
from sqlalchemy import select

from centralita.core.db import READ_ONLY
from centralita.core.events import Event, LocalBroker, broker_for
from centralita.core.models import Role, User, WebSession, utcnow
from centralita.core.runtime import Runtime
from centralita.routing.signin import is_idle
from centralita.web.login import CurrentUser, login_required, user
from centralita.web.services import services

bp = Blueprint("events", __name__)

STREAM_SECONDS = 120.0
KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies and browsers keep the stream open
RECHECK_SECONDS = 30.0  # how soon a stream notices its sign-in ended
POLL_MILLISECONDS = 3000  # how soon a browser comes back to a server that cannot hold streams


def may_see(me: CurrentUser, event: Event) -> bool:
    if me.role == Role.ADMIN:
        return True
    if me.role == Role.SUPERVISOR:
        return event.campaign_id is not None and event.campaign_id in me.campaign_ids
    return me.id in event.agent_ids


def signed_in(rt: Runtime, web_session_id: int) -> bool:
    """The sign-in is still open, its person active, and it has not gone idle."""
    with rt.sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        row = session.execute(
            select(WebSession.ended_at, WebSession.last_seen_at, User.active)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id == web_session_id)
        ).first()
    if row is None or row.ended_at is not None or not row.active:
        return False
    idle = timedelta(minutes=rt.settings.session_idle_minutes)
    return not is_idle(row.last_seen_at, utcnow(), idle)


def _stream(
    me: CurrentUser, broker: LocalBroker, still_signed_in: Callable[[], bool]
) -> Iterator[str]:
    subscription = broker.subscribe()
    try:
        yield "retry: 1000\n: connected\n\n"
        ends = time.monotonic() + STREAM_SECONDS
        recheck = time.monotonic() + RECHECK_SECONDS
        while (left := ends - time.monotonic()) > 0:
            if time.monotonic() >= recheck:
                if not still_signed_in():
                    return  # the browser comes back and gets 401
                recheck = time.monotonic() + RECHECK_SECONDS
            event = subscription.get(timeout=min(KEEPALIVE_SECONDS, left))
            if event is None:
                yield ": keepalive\n\n"
            elif may_see(me, event):
                data = {"kind": event.kind, "chat_id": event.chat_id, **event.data}
                yield f"event: {event.kind}\ndata: {json.dumps(data)}\n\n"
    finally:
        subscription.close()


@bp.get("/events")
@login_required(passive=True)
def stream() -> Response:
    broker = broker_for(services().engine)
    if broker is None:
        abort(503)
    if not request.environ.get("wsgi.multithread", False):
        # A server with one request at a time per process (gunicorn's sync workers) must not
        # be held by a stream: answer at once and let the browser come back in a few seconds
        # (the page refreshes what it shows on every reconnection).
        return Response(
            f"retry: {POLL_MILLISECONDS}\n: this server does not hold streams\n\n",
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )
    rt, me = services(), user()
    return Response(
        _stream(me, broker, lambda: signed_in(rt, me.web_session_id)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
