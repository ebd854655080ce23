"""The JSON API under /api/v1 (contract.md, "HTTP"): bearer tokens, one module per area."""

from __future__ import annotations

from flask import Blueprint

from centralita.web.api import agents, alerts, chats, errors, senders, sessions

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.install(bp)
for area in (chats, agents, alerts, senders, sessions):
    area.register(bp)
