"""The customer lookup behind the flow's `lookup` step, on the campaigns' customer databases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from centralita.bot.engine import CustomerRecord, DirectoryError
from centralita.bot.inputs import normalize_document
from centralita.core.models import Campaign, Customer

# Built once: building a select and its cache key costs more than running it (the bot looks
# a customer up on many conversations' second message).
_FIND = (
    select(
        Customer.document,
        Customer.name,
        Customer.phone,
        Customer.extra,
        Campaign.slug,
        Campaign.name,
        Campaign.timezone,
    )
    .join(Campaign, Customer.campaign_id == Campaign.id)
    .where(
        Customer.document == bindparam("document"),
        Customer.retired_at.is_(None),  # left out of a `replace` import
        Campaign.active.is_(True),
    )
    .order_by(Campaign.slug)
)
_FIND_IN = _FIND.where(Campaign.slug.in_(bindparam("campaigns", expanding=True)))


class DatabaseDirectory:
    """Finds customers by document in active campaigns (`customers.document` is indexed).

    Given a session or a connection, it reads inside that transaction: the message being
    handled already holds SQLite's write lock, and a second connection would wait for it
    forever. The query runs in a savepoint so a database error becomes the lookup's `error`
    outcome without spoiling the message's transaction; on a connection that savepoint does
    not flush the session's pending changes first (the inbound webhook's case: one UPDATE of
    the chat at the end instead of one more here). Given a sessionmaker, each lookup has its
    own session. Columns, not entities: nothing loaded here is changed afterwards.
    """

    def __init__(self, sessions: Session | Connection | sessionmaker[Session]) -> None:
        self.sessions = sessions

    def find(self, document: str, campaigns: Sequence[str] | None) -> list[CustomerRecord]:
        params: dict[str, object] = {"document": normalize_document(document)}
        query = _FIND
        if campaigns is not None:
            query, params["campaigns"] = _FIND_IN, list(campaigns)
        try:
            if isinstance(self.sessions, Session | Connection):
                with self.sessions.begin_nested():
                    rows = self.sessions.execute(query, params).all()
            else:
                with self.sessions() as session:
                    rows = session.execute(query, params).all()
        except SQLAlchemyError as exc:
            raise DirectoryError(f"customer lookup failed: {type(exc).__name__}") from exc
        return [
            CustomerRecord(
                campaign=slug,
                campaign_name=campaign_name,
                document=document,
                name=name,
                phone=phone,
                fields=dict(extra or {}),
                campaign_timezone=timezone,
            )
            for document, name, phone, extra, slug, campaign_name, timezone in rows
        ]
