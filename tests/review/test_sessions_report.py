"""The sessions report does not tell a supervisor which emails exist outside their people."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.inbox.conftest import World, sign_in


def test_someone_elses_person_and_nobody_look_the_same_to_a_supervisor(
    web_client: FlaskClient, world: World
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    other = web_client.get("/sessions?user=beto@x.co")  # exists, in another campaign
    nobody = web_client.get("/sessions?user=nadie@x.co")
    assert other.status_code == nobody.status_code != 200
    assert _page(other.get_data(as_text=True), "beto@x.co") == _page(
        nobody.get_data(as_text=True), "nadie@x.co"
    )
    own = web_client.get("/sessions?user=ana@x.co")
    assert own.status_code == 200


def _page(html: str, email: str) -> str:
    # The CSRF token is signed with a timestamp: two requests a second apart differ there.
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html).replace(email, "?")
