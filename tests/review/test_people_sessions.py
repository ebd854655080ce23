"""An admin who resets someone's password or deactivates them ends that person's sign-ins:
whoever holds their cookie (a thief, a shared computer) is out at once, and stays out if the
person is reactivated later."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.inbox.conftest import World, csrf_token, sign_in


def _edit(admin: FlaskClient, world: World, label: str, **changes: str) -> None:
    path = f"/admin/people/{world.users[label]}"
    form = {
        "csrf_token": csrf_token(admin, path),
        "name": "Ana",
        "role": "agent",
        "campaigns": str(world.campaigns["a"]),
        "capacity": "5",
        "weight": "1",
        "active": "on",
        **changes,
    }
    form = {k: v for k, v in form.items() if v != ""}
    response = admin.post(path, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:800]


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/inbox/").status_code == 200


def test_a_password_reset_ends_the_persons_open_sign_ins(web_app: Flask, world: World) -> None:
    stolen, admin = web_app.test_client(), web_app.test_client()
    sign_in(stolen, world.emails["agent_a"])
    sign_in(admin, world.emails["admin"])
    assert _signed_in(stolen)
    _edit(admin, world, "agent_a", password="otra-clave-segura")
    assert not _signed_in(stolen)
    assert admin.get("/admin/").status_code == 200  # the admin's own sign-in goes on


def test_a_deactivated_persons_sign_in_does_not_come_back_with_reactivation(
    web_app: Flask, world: World
) -> None:
    stolen, admin = web_app.test_client(), web_app.test_client()
    sign_in(stolen, world.emails["agent_a"])
    sign_in(admin, world.emails["admin"])
    _edit(admin, world, "agent_a", active="")
    assert not _signed_in(stolen)
    _edit(admin, world, "agent_a")
    assert not _signed_in(stolen)


def test_an_admin_changing_their_own_password_stays_signed_in(web_app: Flask, world: World) -> None:
    admin, other_browser = web_app.test_client(), web_app.test_client()
    sign_in(admin, world.emails["admin"])
    sign_in(other_browser, world.emails["admin"])
    path = f"/admin/people/{world.users['admin']}"
    response = admin.post(
        path,
        data={
            "csrf_token": csrf_token(admin, path),
            "name": "Root",
            "role": "admin",
            "capacity": "5",
            "weight": "1",
            "active": "on",
            "password": "otra-clave-segura",
        },
    )
    assert response.status_code == 302
    assert admin.get("/admin/").status_code == 200
    assert other_browser.get("/admin/").status_code == 302  # to the sign-in page
