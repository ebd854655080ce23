"""The contract's CHAT and MESSAGE shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from centralita.core.models import Assignment, Chat, Message


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def chat_json(chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "status": str(chat.status),
        "campaign": chat.campaign.slug if chat.campaign is not None else None,
        "contact": {"address": chat.contact.address, "profile_name": chat.contact.profile_name},
        "customer": (
            {"document": chat.customer.document, "name": chat.customer.name}
            if chat.customer is not None
            else None
        ),
        "agent": chat.agent.email if chat.agent is not None else None,
        "opened_at": _time(chat.opened_at),
        "queued_at": _time(chat.queued_at),
        "assigned_at": _time(chat.assigned_at),
        "closed_at": _time(chat.closed_at),
        "close_reason": chat.close_reason,
        "last_customer_message_at": _time(chat.last_customer_message_at),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": str(message.direction),
        "author": str(message.author),
        "text": message.text,
        "status": str(message.status),
        "error_code": message.error_code,
        "created_at": _time(message.created_at),
    }


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    return {
        "agent": assignment.agent.email if assignment.agent is not None else None,
        "by": assignment.by_user.email if assignment.by_user is not None else "system",
        "reason": assignment.reason,
        "at": _time(assignment.created_at),
        "kind": str(assignment.kind),
        "policy": assignment.policy,
        "candidates": assignment.candidates,
    }
