"""The sessions report page, for supervisors and admins (the API's is api/sessions.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from centralita.core.db import READ_ONLY
from centralita.core.models import Role, utcnow
from centralita.web.auth.sessionlog import FilterError, Viewer, parse_filters, session_report
from centralita.web.login import login_required, user
from centralita.web.services import services


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/sessions", view_func=sessions_report, methods=["GET"])


def viewer() -> Viewer:
    me = user()
    return Viewer(user_id=me.id, role=me.role, campaign_ids=me.campaign_ids)


@login_required(Role.SUPERVISOR, Role.ADMIN)
def sessions_report() -> Any:
    args = {k: v for k, v in request.args.items() if v.strip()}
    error, rows = None, []
    try:
        filters = parse_filters(args)
        with services().sessions() as db:
            db.connection(execution_options={READ_ONLY: True})
            rows = session_report(db, viewer(), filters, utcnow())
    except FilterError as exc:
        error = exc.message
    page = render_template("auth/sessions.html", rows=rows, args=args, error=error)
    return page, 400 if error else 200
