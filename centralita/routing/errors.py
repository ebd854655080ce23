"""What routing actions refuse to do, as typed errors the API turns into HTTP answers.

Each error carries the `code` and `http_status` of the contract's error body
(`{"error": {"code": ..., "message": ...}}`), so a view only has to catch `RoutingError`.
"""

from __future__ import annotations


class RoutingError(Exception):
    code = "routing_error"
    http_status = 400

    @property
    def message(self) -> str:
        return str(self)


class InvalidRequest(RoutingError, ValueError):
    """A value that can never work: an unknown presence, an empty reason."""

    code = "invalid_request"
    http_status = 400


class NotAllowed(RoutingError, PermissionError):
    """The user's role or campaigns do not allow this (agents cannot reassign)."""

    code = "forbidden"
    http_status = 403


class ManualAssignmentDisabled(NotAllowed):
    """The chat's campaign does not allow picking chats from the queue by hand."""

    code = "manual_assignment_disabled"


class ChatNotFound(RoutingError, LookupError):
    code = "not_found"
    http_status = 404


class WrongChatStatus(RoutingError):
    """The chat is not in a status the action applies to (closed, still in the bot...)."""

    code = "conflict"
    http_status = 409


class AgentNotEligible(RoutingError, ValueError):
    """The target agent does not exist, is not an active agent of the chat's campaign, is not
    available, or has no capacity left. The request was well formed: 422."""

    code = "agent_not_eligible"
    http_status = 422
