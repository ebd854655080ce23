"""The smallest world a customer can write to: the collections flow's number, its campaign,
and one customer the bot finds (document 1012345678, 45 days overdue)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from centralita.core.models import Campaign, Customer, SenderNumber

NUMBER = "whatsapp:+576015550100"


def add_cartera(session: Session) -> Campaign:
    campaign = Campaign(slug="cartera", name="Cartera Morosa")
    session.add(campaign)
    session.flush()
    session.add(SenderNumber(address=NUMBER, flow_id="cobranza", campaigns=[campaign]))
    session.add(
        Customer(
            campaign_id=campaign.id,
            document="1012345678",
            name="Ana María Rodríguez",
            phone="+573001234567",
            extra={"saldo": 1250000, "dias_mora": 45},
        )
    )
    session.flush()
    return campaign
