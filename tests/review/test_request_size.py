"""Request bodies are bounded: nobody can make the server spool gigabytes to disk."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from tests.inbox.conftest import World, csrf_token, sign_in

BIG = 3 * 1024 * 1024


def test_a_huge_form_posted_without_signing_in_is_refused(web_client: FlaskClient) -> None:
    response = web_client.post(
        "/login",
        data={"email": "x@y.co", "file": (io.BytesIO(b"a" * BIG), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_an_agent_cannot_post_a_huge_file_to_the_admin_upload(
    agent_client: FlaskClient,
) -> None:
    response = agent_client.post(
        "/admin/campaigns/castigada/upload",
        data={"file": (io.BytesIO(b"a" * BIG), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_an_admin_still_uploads_a_file_of_several_megabytes(
    web_client: FlaskClient, world: World
) -> None:
    sign_in(web_client, world.emails["admin"])
    token = csrf_token(web_client, "/admin/campaigns/castigada/upload")
    rows = "documento,nombre,telefono\n" + "".join(
        f"{10_000_000 + i},Cliente {i},+5730{i:08d}\n" for i in range(100_000)
    )
    assert len(rows) > BIG
    response = web_client.post(
        "/admin/campaigns/castigada/upload",
        data={"csrf_token": token, "file": (io.BytesIO(rows.encode()), "clientes.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert "/admin/uploads/" in response.headers["Location"]
