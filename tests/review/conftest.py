"""The security review's tests reuse the pages' world (tests/inbox/conftest.py)."""

from tests.inbox.conftest import (  # noqa: F401  (fixtures)
    _quick_password_hashes,
    agent_client,
    web_app,
    web_client,
    web_rt,
    web_settings,
    world,
)
