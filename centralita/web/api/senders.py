"""Sending health of our numbers (docs/sender-health.md), for supervisors and admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from centralita.channels.health import health_report
from centralita.core.models import Role, utcnow
from centralita.web.api import auth


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/senders/health", view_func=senders_health, methods=["GET"])


@auth.authenticated(Role.SUPERVISOR, Role.ADMIN)
def senders_health() -> dict[str, Any]:
    return health_report(auth.session(), utcnow())
