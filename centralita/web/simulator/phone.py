"""What the customer simulator does: write as a customer, read what came back.

`send_as_customer` builds the form Twilio would post for a message from the customer's phone
to one of our numbers, signs it with TWILIO_AUTH_TOKEN for PUBLIC_BASE_URL exactly as Twilio
does, and hands it to this same app's webhook through its WSGI interface (in process: a
single-process demo server would deadlock calling itself over HTTP). So the message takes the
real path, signature check included. `conversation` reads the contact's chats with that
number: what the bot and the agents answered is in the outbox rows, whether the console
transport recorded them or Twilio sent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.channels.inbound import is_address
from centralita.core.models import Chat, Contact, Customer, Message, SenderNumber
from centralita.customers.phones import E164Phones
from centralita.devtools.twilio_inbound import inbound_params, signed_headers

WEBHOOK_PATH = "/webhooks/twilio/messages"
# Twilio puts the account's SID in every webhook; without credentials, one of the right shape.
PLACEHOLDER_ACCOUNT_SID = "AC" + "0" * 32
MAX_BODY = 1600  # Twilio's limit for one message body
SHOWN_MESSAGES = 200


class SimulatorError(ValueError):
    """A field the simulator cannot use: `field` names the form field; `text` is Spanish with
    `%(name)s` placeholders filled from `values` (the page translates it)."""

    def __init__(self, field: str, text: str, **values: object) -> None:
        super().__init__(text % values if values else text)
        self.field = field
        self.text = text
        self.values = values


@dataclass(frozen=True)
class Delivery:
    status: int  # what the webhook answered
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def customer_address(phone: str, number: str, region: str = "CO") -> str:
    """The customer's address for writing to `number`: `whatsapp:+E164` to a WhatsApp number,
    `+E164` to an SMS one. `phone` may be typed locally (300 123 4567) or in E.164."""
    e164 = E164Phones(region)(phone.strip().removeprefix("whatsapp:"))
    if e164 is None:
        raise SimulatorError(
            "phone",
            "«%(phone)s» no es un número de teléfono (por ejemplo +573001234567 o 300 123 4567)",
            phone=phone,
        )
    return f"whatsapp:{e164}" if number.startswith("whatsapp:") else e164


def check_number(number: str) -> str:
    number = number.strip()
    if not is_address(number):
        raise SimulatorError(
            "number",
            "«%(number)s» no es una dirección de número (por ejemplo whatsapp:+576015550100)",
            number=number,
        )
    return number


def send_as_customer(
    app: Flask,
    *,
    from_: str,
    to: str,
    body: str,
    profile_name: str = "",
) -> Delivery:
    """Post the message to the app's inbound webhook as Twilio would; what it answered."""
    body = body.strip()
    if not body:
        raise SimulatorError("body", "escribe un mensaje primero")
    if len(body) > MAX_BODY:
        raise SimulatorError(
            "body", "un mensaje tiene como máximo %(max)s caracteres", max=MAX_BODY
        )
    settings = app.extensions["centralita"].settings
    params = inbound_params(
        account_sid=settings.twilio_account_sid or PLACEHOLDER_ACCOUNT_SID,
        from_=from_,
        to=to,
        body=body,
        profile_name=profile_name.strip() or None,
    )
    headers: dict[str, str] = {}
    if settings.twilio_auth_token is not None:
        # The URL Twilio would have called: what the webhook checks the signature against.
        signed_url = settings.public_base_url + WEBHOOK_PATH
        headers = signed_headers(settings.twilio_auth_token, signed_url, params)
    response = app.test_client().post(WEBHOOK_PATH, data=params, headers=headers)
    return Delivery(response.status_code, response.get_data(as_text=True))


def our_numbers(session: Session) -> list[SenderNumber]:
    return list(session.scalars(select(SenderNumber).order_by(SenderNumber.address)))


def sample_customers(session: Session, per_campaign: int = 3) -> list[tuple[Customer, str]]:
    """A few customers with a phone from each campaign, each with one of our numbers that
    serves their campaign (where writing finds them)."""
    numbers = our_numbers(session)
    found: list[tuple[Customer, str]] = []
    for campaign_id in session.scalars(select(Customer.campaign_id).distinct()):
        serving = [
            n.address
            for n in numbers
            if not n.campaigns or any(c.id == campaign_id for c in n.campaigns)
        ]
        if not serving:
            continue
        customers = session.scalars(
            select(Customer)
            .where(
                Customer.campaign_id == campaign_id,
                Customer.phone.is_not(None),
                Customer.retired_at.is_(None),
            )
            .order_by(Customer.id)
            .limit(per_campaign)
        )
        found.extend((customer, serving[0]) for customer in customers)
    return found


def conversation(session: Session, address: str, number: str) -> dict[str, Any]:
    """The messages between `address` and our `number`, oldest first, across their chats."""
    contact_id = session.scalar(select(Contact.id).where(Contact.address == address))
    if contact_id is None:
        return {"chat": None, "messages": []}
    chats = {
        chat.id: chat
        for chat in session.scalars(
            select(Chat).where(Chat.contact_id == contact_id, Chat.number == number)
        )
    }
    if not chats:
        return {"chat": None, "messages": []}
    rows = session.scalars(
        select(Message)
        .where(Message.chat_id.in_(list(chats)))
        .order_by(Message.id.desc())
        .limit(SHOWN_MESSAGES)
    ).all()
    latest = chats[max(chats)]
    return {
        "chat": {
            "id": latest.id,
            "status": str(latest.status),
            "agent": latest.agent.name if latest.agent is not None else None,
        },
        "messages": [_message(message) for message in reversed(rows)],
    }


def _message(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "chat_id": message.chat_id,
        "direction": str(message.direction),
        "author": str(message.author),
        "text": message.text,
        "status": str(message.status),
        "created_at": _iso(message.created_at),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()
