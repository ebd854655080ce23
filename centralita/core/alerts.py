"""Alerts: something a person must look at, raised once however many workers notice it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centralita.core.events import Event, chat_event, publish_after_commit
from centralita.core.models import Alert, Chat


def raise_alert(
    session: Session,
    kind: str,
    key: str,
    *,
    chat_id: int | None = None,
    campaign_id: int | None = None,
    number: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Add the alert unless one with this key exists; True if this call added it.

    The unique key makes it once-only even when two workers race: the loser's insert fails in
    its savepoint and its transaction goes on."""
    if session.scalar(select(Alert.id).where(Alert.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                Alert(
                    kind=kind,
                    key=key,
                    chat_id=chat_id,
                    campaign_id=campaign_id,
                    number=number,
                    details=details,
                )
            )
    except IntegrityError:
        return False
    chat = session.get(Chat, chat_id) if chat_id is not None else None
    publish_after_commit(
        session,
        chat_event("alert", chat, alert=kind)
        if chat is not None
        else Event("alert", campaign_id=campaign_id, data={"alert": kind}),
    )
    return True
