"""Twilio's webhooks: inbound messages and delivery status callbacks.

Thin: check the signature, parse, call the domain action, answer. With TWILIO_AUTH_TOKEN set,
a bad or missing `X-Twilio-Signature` gets 403 and nothing is stored. The signature is checked
against PUBLIC_BASE_URL + path, the URL Twilio called, so it works behind a proxy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import DBAPIError

from centralita.channels.inbound import InvalidParameter, parse_inbound
from centralita.channels.receive import receive_message
from centralita.channels.status import StatusError, record_status
from centralita.channels.twilio_client import validate_signature
from centralita.web.services import services

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")

MAX_BODY = 64 * 1024  # Twilio's webhooks are a few KB; anything this large is not Twilio
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@bp.before_request
def _limit_and_verify() -> None:
    request.max_content_length = MAX_BODY  # larger bodies get 413 before they are read
    token = services().settings.twilio_auth_token
    if token is None:
        return  # console mode: no Twilio account, nothing to verify against
    url = services().settings.public_base_url + request.full_path.rstrip("?")
    if not validate_signature(token, url, request.form, request.headers.get("X-Twilio-Signature")):
        log.warning("webhook %s refused: bad or missing X-Twilio-Signature", request.path)
        abort(403)


T = TypeVar("T")


def _once_more_if_disconnected(action: Callable[[], T]) -> T:
    """Run `action`; again, once, if the database had dropped the pooled connection.

    The web engine does not ping a connection before each request (server.py): a dropped one
    fails its first statement instead, which invalidates the pool, and a second run gets a
    fresh connection. Safe to repeat: a message already stored (the drop came with its commit)
    is a duplicate the second time, and the sweep enqueues its replies; a status callback only
    moves a status forward.
    """
    try:
        return action()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost (%s); %s runs once more", exc.orig, request.path)
        return action()


def _bad_request(parameter: str, problem: str) -> Response:
    return Response(f"{parameter}: {problem}\n", status=400, mimetype="text/plain")


@bp.post("/messages")
def inbound_message() -> Response:
    try:
        inbound = parse_inbound(request.form)
    except InvalidParameter as exc:
        return _bad_request(exc.parameter, exc.problem)
    _once_more_if_disconnected(lambda: receive_message(services(), inbound))
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/status")
def status_callback() -> Response:
    try:
        _once_more_if_disconnected(lambda: record_status(services(), request.form))
    except StatusError as exc:
        return _bad_request(exc.parameter, str(exc))
    return Response(status=204)
