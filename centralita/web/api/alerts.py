"""Alerts: agents see their chats' alerts, supervisors their campaigns', admins all."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import or_, select

from centralita.core.models import Alert, Chat, Role
from centralita.web.api import auth
from centralita.web.api.errors import ApiError


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/alerts", view_func=list_alerts, methods=["GET"])


@auth.authenticated()
def list_alerts() -> dict[str, Any]:
    user = auth.user()
    query = select(Alert, Chat).outerjoin(Chat, Alert.chat_id == Chat.id)
    if user.role == Role.AGENT:
        # Their chats' alerts, and those raised for them (kept if the chat moved on since).
        query = query.where(or_(Chat.agent_id == user.id, Alert.user_id == user.id))
    elif user.role == Role.SUPERVISOR:
        query = query.where(Alert.campaign_id.in_([c.id for c in user.campaigns]))
    only_open = request.args.get("open")
    if only_open not in (None, "true", "false"):
        raise ApiError(400, "open must be true or false")
    if only_open == "true":
        query = query.where(Alert.resolved_at.is_(None))
    rows = auth.session().execute(query.order_by(Alert.id.desc()).limit(500)).all()
    return {
        "alerts": [
            {
                "id": alert.id,
                "kind": alert.kind,
                "chat_id": alert.chat_id,
                "agent": chat.agent.email if chat is not None and chat.agent else None,
                "created_at": alert.created_at.isoformat(),
                "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
                "details": alert.details,
            }
            for alert, chat in rows
        ]
    }
