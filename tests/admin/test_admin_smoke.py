from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.admin.conftest import World, sign_in


@pytest.fixture
def admin_client(web_client: FlaskClient, world: World) -> FlaskClient:
    sign_in(web_client, world.emails["admin"])
    return web_client


def test_every_admin_page_renders(admin_client: FlaskClient, world: World) -> None:
    for path in [
        "/admin/",
        "/admin/campaigns",
        "/admin/campaigns/new",
        "/admin/campaigns/castigada",
        "/admin/campaigns/castigada/upload",
        "/admin/people",
        "/admin/people/new",
        f"/admin/people/{world.users['agent_a']}",
        "/admin/senders",
        "/admin/flows",
        "/admin/flows/cobranza",
    ]:
        response = admin_client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[-2000:])
