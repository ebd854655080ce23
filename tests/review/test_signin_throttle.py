"""Failed sign-ins are throttled even when an attacker sends them all at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from centralita.core.models import utcnow
from centralita.core.runtime import Runtime
from centralita.routing import signin
from tests.inbox.conftest import PASSWORD, World


def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(
    web_rt: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The production hash takes a noticeable time on purpose: that is the window in which
    # parallel attempts used to be checked without seeing each other's failures.
    real_check = signin.check_password_hash

    def slow_check(password_hash: str, password: str) -> bool:
        time.sleep(0.3)
        return real_check(password_hash, password)

    monkeypatch.setattr(signin, "check_password_hash", slow_check)
    email = world.emails["agent_a"]
    start = threading.Barrier(12)

    def attempt(i: int) -> signin.SignIn:
        start.wait()
        # The last one has the right password: guessing in parallel must not reach it.
        password = PASSWORD if i == 11 else f"guess-{i}"
        return signin.sign_in(
            web_rt.sessions, email, password, ip=f"10.0.0.{i}", user_agent="x", now=utcnow()
        )

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(attempt, range(12)))
    # Wrong guesses checked: at most the limit. (When the right password happens to be
    # checked early, its attempt becomes a success and no longer counts as a failure.)
    guesses = [r for i, r in enumerate(results) if i != 11 and r.wait is None]
    assert len(guesses) <= signin.ACCOUNT_FAILURES, (
        f"{len(guesses)} wrong passwords checked for one account at once "
        f"(limit {signin.ACCOUNT_FAILURES})"
    )
    assert all(r.web_session_id is None for r in guesses)
