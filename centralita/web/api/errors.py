"""Every API error is `{"error": {"code": ..., "message": ...}}` with its HTTP status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from centralita.routing.errors import RoutingError

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported",
    422: "unprocessable",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")


def error_response(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def install(bp: Blueprint) -> None:
    @bp.errorhandler(ApiError)
    def _api(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.status, exc.code, exc.message)

    @bp.errorhandler(RoutingError)
    def _routing(exc: RoutingError) -> tuple[Response, int]:
        return error_response(exc.http_status, exc.code, exc.message)

    # App-wide, so unknown URLs and wrong methods under /api answer JSON too; elsewhere
    # (pages, webhooks) Flask's own error pages stay.
    @bp.app_errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | tuple[Response, int] | HTTPException:
        if not request.path.startswith("/api/"):
            return exc
        status = exc.code or 500
        return error_response(status, _CODES.get(status, "error"), exc.description or "")


def json_body(request_json: Any, *required: str) -> dict[str, Any]:
    """The request's JSON object, with `required` keys present as non-empty strings."""
    if not isinstance(request_json, dict):
        raise ApiError(400, "the body must be a JSON object")
    for key in required:
        value = request_json.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ApiError(400, f"{key!r} is required (a non-empty string)")
    return request_json
