"""Changing a person from the admin pages (creating one is `routing.users.create_user`).

One function, in the caller's transaction. Deactivating someone sets them offline: the
router gives them nothing more and their sign-in stops working at the next request; chats
they hold stay theirs until a supervisor reassigns them (the admin page says how many).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from centralita.core.models import (
    Campaign,
    Chat,
    ChatStatus,
    Presence,
    Role,
    SessionEnd,
    User,
    WebSession,
)
from centralita.routing.signin import end_session
from centralita.web.admin.forms import FieldError

MAX_CAPACITY = 100
MAX_WEIGHT = 100
MIN_PASSWORD = 8


@dataclass(frozen=True)
class PersonChange:
    name: str
    role: str
    campaigns: Sequence[Campaign]
    capacity: int
    weight: int
    active: bool
    password: str | None = None  # None or empty: unchanged


def check_numbers(capacity: int, weight: int) -> None:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise FieldError("capacity", "la capacidad va de 1 a %(max)s chats", max=MAX_CAPACITY)
    if not 1 <= weight <= MAX_WEIGHT:
        raise FieldError("weight", "el peso va de 1 a %(max)s", max=MAX_WEIGHT)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise FieldError(
            "password", "la contraseña necesita al menos %(min)s caracteres", min=MIN_PASSWORD
        )


def update_person(
    session: Session,
    person: User,
    change: PersonChange,
    now: datetime,
    *,
    keep_session_id: int | None = None,
) -> bool:
    """Apply `change` to `person`; True when they may now receive more chats (reactivated or
    given room), for the caller to drain the queue for them after the commit. A new password
    or a deactivation ends the person's open sign-ins (but `keep_session_id`, the admin's own
    when they change their own password): whoever holds an old cookie is out, and stays out
    if the person is reactivated later."""
    name = change.name.strip()
    if not name or len(name) > 200:
        raise FieldError("name", "el nombre debe tener de 1 a 200 caracteres")
    try:
        role = Role(change.role)
    except ValueError:
        raise FieldError("role", "«%(role)s» no es un rol", role=change.role) from None
    check_numbers(change.capacity, change.weight)
    if change.password:
        check_password_strength(change.password)
        person.password_hash = generate_password_hash(change.password)
    more_room = change.active and (not person.active or change.capacity > person.capacity)
    person.name = name
    person.role = role
    person.campaigns = list(change.campaigns)
    person.capacity = change.capacity
    person.weight = change.weight
    if person.active and not change.active and person.presence != Presence.OFFLINE:
        person.presence = Presence.OFFLINE
        person.presence_changed_at = now
    ends_sign_ins = bool(change.password) or (person.active and not change.active)
    person.active = change.active
    session.flush()
    if ends_sign_ins:
        _end_sign_ins(session, person.id, now, keep=keep_session_id)
    return more_room and role == Role.AGENT


def _end_sign_ins(session: Session, person_id: int, now: datetime, *, keep: int | None) -> None:
    # Recorded as signed out: the reasons are fixed by migration 0007's CHECK constraint.
    open_ones = session.scalars(
        select(WebSession)
        .where(WebSession.user_id == person_id, WebSession.ended_at.is_(None))
        .where(WebSession.id != (keep or 0))
        .order_by(WebSession.id)
        .with_for_update()
    ).all()
    for web_session in open_ones:
        end_session(session, web_session, SessionEnd.SIGN_OUT, now)


def open_chats(session: Session, person_id: int) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(Chat)
        .where(Chat.agent_id == person_id, Chat.status == ChatStatus.ASSIGNED)
    )
    return int(count or 0)
