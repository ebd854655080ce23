"""The customer lookup behind the flow's `lookup` step, on the campaigns' customer databases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from centralita.bot.engine import CustomerRecord, DirectoryError
from centralita.bot.inputs import normalize_document
from centralita.core.models import Campaign, Customer


class DatabaseDirectory:
    """Finds customers by document in active campaigns (`customers.document` is indexed).

    Runs in its own short session so a lookup never holds the message's transaction open
    longer than the query itself; a database failure becomes the lookup's `error` outcome.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def find(self, document: str, campaigns: Sequence[str] | None) -> list[CustomerRecord]:
        query = (
            select(Customer, Campaign.slug, Campaign.name, Campaign.timezone)
            .join(Campaign, Customer.campaign_id == Campaign.id)
            .where(Customer.document == normalize_document(document), Campaign.active.is_(True))
            .order_by(Campaign.slug)
        )
        if campaigns is not None:
            query = query.where(Campaign.slug.in_(list(campaigns)))
        try:
            with self.sessions() as session:
                rows = session.execute(query).all()
        except SQLAlchemyError as exc:
            raise DirectoryError(f"customer lookup failed: {type(exc).__name__}") from exc
        return [
            CustomerRecord(
                campaign=slug,
                campaign_name=name,
                document=customer.document,
                name=customer.name,
                phone=customer.phone,
                fields=dict(customer.extra or {}),
                campaign_timezone=timezone,
            )
            for customer, slug, name, timezone in rows
        ]
