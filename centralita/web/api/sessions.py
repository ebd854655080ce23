"""The session log for attendance control (docs/web.md, "Session logs")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from centralita.core.models import Role, utcnow
from centralita.web.api import auth
from centralita.web.api.errors import ApiError
from centralita.web.auth.sessionlog import FilterError, Viewer, parse_filters, session_report


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/sessions", view_func=list_sessions, methods=["GET"])


@auth.authenticated(Role.SUPERVISOR, Role.ADMIN)
def list_sessions() -> dict[str, Any]:
    me = auth.user()
    viewer = Viewer(user_id=me.id, role=me.role, campaign_ids=tuple(c.id for c in me.campaigns))
    try:
        filters = parse_filters(dict(request.args.items()))
        rows = session_report(auth.session(), viewer, filters, utcnow())
    except FilterError as exc:
        raise ApiError(exc.status, exc.message) from None
    return {"sessions": [row.to_json() for row in rows]}
