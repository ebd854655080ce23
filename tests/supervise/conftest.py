"""The pages' world of helper A's inbox tests (two campaigns, their agents, a supervisor of
the first, an admin, chats in each status), signed in through the real form."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.inbox.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    PASSWORD,
    World,
    _quick_password_hashes,
    csrf_token,
    sign_in,
    web_app,
    web_client,
    web_rt,
    web_settings,
    world,
)

_META_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def page_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of a signed-in page (its <meta>), for posting its forms."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    found = _META_TOKEN.search(response.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)
