"""Bearer tokens: who is calling, and what their role lets them see."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy.orm import Session

from centralita.core.models import Role, User, utcnow
from centralita.routing.users import user_for_token
from centralita.web.api.errors import ApiError
from centralita.web.services import services

F = TypeVar("F", bound=Callable[..., Any])


def authenticated(*roles: Role) -> Callable[[F], F]:
    """The view runs with `g.session` (one transaction for the request) and `g.user`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "send `Authorization: Bearer TOKEN` (centralita tokens create)")
            with services().sessions.begin() as session:
                user = user_for_token(session, token.strip(), utcnow())
                if user is None:
                    raise ApiError(401, "unknown or revoked token")
                if roles and user.role not in roles:
                    allowed = " or ".join(r.value for r in roles)
                    raise ApiError(403, f"only a {allowed} may do this")
                g.session, g.user, g.after_commit = session, user, []
                result = view(*args, **kwargs)
            for action in g.after_commit:  # jobs and queue drains, once the data is committed
                action()
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def after_commit(action: Callable[[], Any]) -> None:
    """Run `action` once the request's transaction has committed (never if it fails)."""
    g.after_commit.append(action)


def session() -> Session:
    found: Session = g.session
    return found


def user() -> User:
    found: User = g.user
    return found
