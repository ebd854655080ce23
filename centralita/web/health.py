"""`GET /healthz`: can this process reach its database and Redis? For load balancers."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from centralita.core.db import READ_ONLY
from centralita.web.services import services

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks = {"db": _check_db(), "redis": _check_redis()}
    healthy = all(value != "error" for value in checks.values())
    return jsonify(checks), 200 if healthy else 503


def _check_db() -> str:
    try:
        # Read-only: on SQLite a probe must not queue behind (or block) a writer.
        with services().engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True}).execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable", exc_info=True)
        return "error"
    return "ok"


def _check_redis() -> str:
    redis = services().redis
    if redis is None:
        return "disabled"
    try:
        redis.ping()
    except RedisError:
        log.warning("health check: Redis unreachable", exc_info=True)
        return "error"
    return "ok"
