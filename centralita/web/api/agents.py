"""Agents for supervisors, and everyone's own presence."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import func, select

from centralita.core.models import Chat, ChatStatus, Role, User, utcnow
from centralita.routing.presence import set_presence
from centralita.routing.queue import drain_queue
from centralita.web.api import auth
from centralita.web.api.errors import json_body
from centralita.web.services import services


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/agents", view_func=list_agents, methods=["GET"])
    bp.add_url_rule("/me/presence", view_func=presence, methods=["PUT"])


@auth.authenticated(Role.SUPERVISOR, Role.ADMIN)
def list_agents() -> dict[str, Any]:
    user = auth.user()
    query = select(User).where(User.role == Role.AGENT, User.active.is_(True)).order_by(User.email)
    agents = auth.session().scalars(query).all()
    if user.role == Role.SUPERVISOR:  # their campaigns' agents only
        mine = {c.id for c in user.campaigns}
        agents = [a for a in agents if mine & {c.id for c in a.campaigns}]
    counted = auth.session().execute(
        select(Chat.agent_id, func.count())
        .where(Chat.status == ChatStatus.ASSIGNED, Chat.agent_id.is_not(None))
        .group_by(Chat.agent_id)
    )
    open_chats = {agent_id: int(count) for agent_id, count in counted}
    return {
        "agents": [
            {
                "email": a.email,
                "presence": str(a.presence),
                "open_chats": int(open_chats.get(a.id, 0)),
                "capacity": a.capacity,
                "campaigns": [c.slug for c in a.campaigns],
            }
            for a in agents
        ]
    }


@auth.authenticated()
def presence() -> dict[str, Any]:
    body = json_body(request.get_json(silent=True), "status")
    user = auth.user()
    became_available = set_presence(auth.session(), user, body["status"], utcnow())
    if became_available and user.role == Role.AGENT:
        user_id = user.id
        auth.after_commit(lambda: drain_queue(services().sessions, utcnow(), agent_id=user_id))
    return {"email": user.email, "presence": str(user.presence)}
