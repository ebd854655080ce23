"""People and their API tokens: what `centralita users create` / `tokens create` and the API's
authentication call.

Passwords are hashed with werkzeug.security (salted, slow on purpose). API tokens are random
(`secrets.token_urlsafe`), shown once, and stored only as their SHA-256: a token has enough
entropy that a fast hash is safe, and it lets a request find its token by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from centralita.core.models import ApiToken, Campaign, Role, User
from centralita.routing.errors import InvalidRequest

# Good enough to catch typos; whether the address exists is not our business.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOKEN_BYTES = 32
# A token's last use is written at most this often, so API reads do not all become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class UserExists(InvalidRequest):
    code = "conflict"
    http_status = 409


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidRequest(f"{email!r} is not an email address")
    return email


def create_user(
    session: Session,
    email: str,
    *,
    name: str,
    role: Role | str,
    password: str,
    campaigns: Sequence[Campaign] = (),
    capacity: int = 5,
    weight: int = 1,
) -> User:
    email = normalize_email(email)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidRequest(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    if not name.strip():
        raise InvalidRequest("a user needs a name")
    if capacity < 1:
        raise InvalidRequest(f"capacity must be at least 1, not {capacity}")
    if weight < 1:
        raise InvalidRequest(f"weight must be at least 1, not {weight}")
    if not password:
        raise InvalidRequest("an empty password")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserExists(f"a user {email} already exists")
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=generate_password_hash(password),
        capacity=capacity,
        weight=weight,
        campaigns=list(campaigns),
    )
    session.add(user)
    session.flush()
    return user


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def check_password(user: User, password: str) -> bool:
    return user.active and check_password_hash(user.password_hash, password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, now: datetime) -> str:
    """A new API token for `user`: returned once, stored only as its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=now))
    session.flush()
    return token


def user_for_token(session: Session, token: str, now: datetime) -> User | None:
    """The active user a bearer token belongs to; None if unknown, revoked or deactivated."""
    if not token:
        return None
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).first()
    if found is None:
        return None
    api_token, user = found._tuple()
    if not user.active:
        return None
    if api_token.last_used_at is None or now - api_token.last_used_at >= LAST_USED_RESOLUTION:
        api_token.last_used_at = now
    return user


def revoke_token(session: Session, token: str, now: datetime) -> bool:
    api_token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if api_token is None or api_token.revoked_at is not None:
        return False
    api_token.revoked_at = now
    return True
