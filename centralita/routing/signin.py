"""Signing in and out of the web pages, as domain actions (no Flask here).

- Failed sign-ins are throttled per account and per address: after `ACCOUNT_FAILURES` failures
  for one email (since its last success) or `ADDRESS_FAILURES` from one IP within `WINDOW`,
  further attempts are refused, right password or not, until the window has passed.
- Each sign-in is a `WebSession` row: the browser's cookie names it; signing out or `idle`
  minutes without activity end it (`end_reason` sign_out / expired). An agent whose last open
  session ends goes offline: they keep their chats but receive no new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from centralita.core.models import LoginAttempt, Presence, SessionEnd, User, WebSession

WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
# Activity is written at most this often: a page load is not a database write each time.
TOUCH_EVERY = timedelta(seconds=60)
# Checked against when the email is unknown, so a wrong email costs as long as a wrong password
# (the response time must not tell which emails exist).
_DUMMY_HASH = generate_password_hash("centralita-no-such-user")


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: a session id, or why not (`wait` when throttled)."""

    web_session_id: int | None = None
    wait: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.web_session_id is not None


def _wait(session: Session, email: str, ip: str, now: datetime) -> timedelta | None:
    """How long this email or address must wait before trying again; None if it need not."""
    since = now - WINDOW
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
        )
    )
    account_since = max(since, last_success) if last_success is not None else since
    waits = []
    for column, value, start, limit in (
        (LoginAttempt.email, email, account_since, ACCOUNT_FAILURES),
        (LoginAttempt.ip, ip, since, ADDRESS_FAILURES),
    ):
        failures = session.scalars(
            select(LoginAttempt.created_at)
            .where(column == value, LoginAttempt.succeeded.is_(False))
            .where(LoginAttempt.created_at > start)
            .order_by(LoginAttempt.created_at.desc())
            .limit(limit)
        ).all()
        if len(failures) >= limit:  # free again once the oldest of them leaves the window
            waits.append(failures[-1] + WINDOW - now)
    return max(waits) if waits else None


def sign_in(
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    *,
    ip: str,
    user_agent: str,
    now: datetime,
) -> SignIn:
    email = email.strip().lower()[:254]
    ip = ip[:45]
    # The attempt is written (as failed) in the same serialised transaction that counts the
    # failures, before the slow hash check: attempts sent all at once see each other, so no
    # more than the limit are ever checked. A right password turns it into a success.
    with sessions.begin() as session:
        _serialise_attempts(session, email, ip)
        wait = _wait(session, email, ip, now)
        if wait is not None:
            return SignIn(wait=wait)
        user = session.scalar(select(User).where(User.email == email))
        user_id = user.id if user is not None and user.active else None
        password_hash = user.password_hash if user is not None else _DUMMY_HASH
        attempt = LoginAttempt(email=email, ip=ip, succeeded=False, created_at=now)
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    matches = check_password_hash(password_hash, password)
    if user_id is None or not matches:
        return SignIn()
    with sessions.begin() as session:
        session.execute(
            update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True)
        )
        web_session = WebSession(
            user_id=user_id,
            started_at=now,
            last_seen_at=now,
            ip=ip,
            user_agent=user_agent[:300] or None,
        )
        session.add(web_session)
        session.flush()
        return SignIn(web_session_id=web_session.id)


def _serialise_attempts(session: Session, email: str, ip: str) -> None:
    """Attempts for one email or from one address take turns counting. SQLite's write
    transactions already do (BEGIN IMMEDIATE); PostgreSQL takes a lock per email and per
    address until the commit (always in that order, so two attempts never deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in (f"centralita-signin-email:{email}", f"centralita-signin-ip:{ip}"):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))


def end_session(
    session: Session, web_session: WebSession, reason: SessionEnd, now: datetime
) -> None:
    """End an open session: at `now` when signing out; when it expired, at the moment it did
    (its last activity plus the idle time is the caller's `now`)."""
    if web_session.ended_at is not None:
        return
    web_session.ended_at = now
    web_session.end_reason = reason
    session.flush()
    still_open = session.scalar(
        select(func.count())
        .select_from(WebSession)
        .where(WebSession.user_id == web_session.user_id, WebSession.ended_at.is_(None))
    )
    if not still_open:
        user = session.get(User, web_session.user_id, with_for_update=True)
        if user is not None and user.presence != Presence.OFFLINE:
            user.presence = Presence.OFFLINE
            user.presence_changed_at = now


def touch(session: Session, web_session_id: int, now: datetime) -> None:
    """The person did something: their session's activity moves to `now`."""
    session.execute(
        update(WebSession)
        .where(WebSession.id == web_session_id, WebSession.ended_at.is_(None))
        .values(last_seen_at=now)
    )


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY


def is_idle(last_seen_at: datetime, now: datetime, idle: timedelta) -> bool:
    return now - last_seen_at > idle


def expire_idle_sessions(sessions: sessionmaker[Session], now: datetime, idle: timedelta) -> int:
    """End every open session idle for longer than `idle` (for people who never came back:
    the sweep runs this). Returns how many it ended."""
    with sessions.begin() as session:
        stale = session.scalars(
            select(WebSession)
            .where(WebSession.ended_at.is_(None), WebSession.last_seen_at < now - idle)
            .order_by(WebSession.id)
            .with_for_update(skip_locked=True)
        ).all()
        for web_session in stale:
            end_session(session, web_session, SessionEnd.EXPIRED, web_session.last_seen_at + idle)
        return len(stale)
