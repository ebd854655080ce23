"""Admin pages: who may use them, campaigns and their settings, numbers, people, senders,
flows. Bad input on purpose: each refusal names the field and says what to do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import (
    AssignmentPolicy,
    Campaign,
    Presence,
    Role,
    SenderNumber,
    User,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.routing.users import check_password
from tests.admin.conftest import World, page_token, sign_in

CAMPAIGN_FORM = {
    "slug": "ventas-2027",
    "name": "Ventas 2027",
    "alert_after": "45m",
    "close_after": "12h",
    "reassign_after": "",
    "timezone": "America/Lima",
    "assignment_policy": "round_robin",
    "max_assignments_per_minute": "4",
    "manual_assignment": "on",
    "active": "on",
    "closing_message": "Gracias por escribirnos.",
    "closing_template": "",
}


@pytest.fixture
def admin_client(web_client: FlaskClient, world: World) -> FlaskClient:
    sign_in(web_client, world.emails["admin"])
    return web_client


def _post(client: FlaskClient, path: str, form: dict[str, str], page: str | None = None) -> object:
    token = page_token(client, page or path)
    return client.post(path, data={"csrf_token": token, **form})


def _campaign(rt: Runtime, slug: str) -> Campaign | None:
    with rt.sessions() as session:
        found = session.scalar(select(Campaign).where(Campaign.slug == slug))
        if found is not None:
            session.expunge(found)
        return found


@pytest.mark.parametrize("who", ["agent_a", "sup_a"])
def test_only_admins_open_the_admin_pages(web_client: FlaskClient, world: World, who: str) -> None:
    sign_in(web_client, world.emails[who])
    for path in ["/admin/", "/admin/campaigns", "/admin/people", "/admin/senders", "/admin/flows"]:
        assert web_client.get(path).status_code == 403, path
    token = page_token(web_client, "/sessions" if who == "sup_a" else "/inbox/")
    response = web_client.post("/admin/campaigns/new", data={"csrf_token": token, **CAMPAIGN_FORM})
    assert response.status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(web_client: FlaskClient) -> None:
    response = web_client.get("/admin/campaigns")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_create_a_campaign_with_every_setting(admin_client: FlaskClient, web_rt: Runtime) -> None:
    response = _post(admin_client, "/admin/campaigns/new", CAMPAIGN_FORM)
    assert response.status_code == 302  # type: ignore[attr-defined]
    found = _campaign(web_rt, "ventas-2027")
    assert found is not None
    assert (found.name, found.timezone) == ("Ventas 2027", "America/Lima")
    assert found.alert_after_seconds == 45 * 60 and found.close_after_seconds == 12 * 3600
    assert found.assignment_policy == AssignmentPolicy.ROUND_ROBIN
    assert found.manual_assignment and found.max_assignments_per_minute == 4
    assert found.closing_message == "Gracias por escribirnos."
    assert found.reassign_after_seconds is None
    page = admin_client.get("/admin/campaigns").get_data(as_text=True)
    assert "Ventas 2027" in page and "45m" in page


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("timezone", "Bogota", "No es una zona horaria IANA"),
        ("alert_after", "media hora", "Duración no válida"),
        ("close_after", "0m", "Duración no válida"),
        ("closing_template", "plantilla-1", "HX y 32 dígitos"),
        ("max_assignments_per_minute", "muchos", "no es un número entero"),
        ("max_assignments_per_minute", "0", "van de 1 a 600"),
        ("slug", "Ventas 2027", "minúsculas"),
        ("slug", "castigada", "no puede repetirse"),
        ("name", "   ", "de 1 a 200 caracteres"),
        ("assignment_policy", "random", "Política de asignación desconocida"),
    ],
)
def test_bad_campaign_settings_are_refused_next_to_their_field(
    admin_client: FlaskClient, web_rt: Runtime, field: str, value: str, words: str
) -> None:
    form = {**CAMPAIGN_FORM, field: value}
    response = _post(admin_client, "/admin/campaigns/new", form)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    error = page.split(f'id="e-{field}"')[1].split("</p>")[0]
    assert words in error, error
    assert f'id="f-{field}"' in page.split(f'id="e-{field}"')[0].rsplit("<div", 1)[1]
    # What was typed is still there to correct.
    if field not in ("slug", "max_assignments_per_minute"):
        assert CAMPAIGN_FORM["name"] in page or field == "name"
    if value.strip() and field == "slug" and value != "castigada":
        assert _campaign(web_rt, value) is None


def test_edit_a_campaigns_settings(admin_client: FlaskClient, web_rt: Runtime) -> None:
    form = {**CAMPAIGN_FORM, "name": "Cartera castigada 2019", "reassign_after": "20m"}
    form.pop("slug")
    form.pop("active")  # unchecked: the campaign is deactivated
    response = _post(admin_client, "/admin/campaigns/castigada", form)
    assert response.status_code == 302  # type: ignore[attr-defined]
    found = _campaign(web_rt, "castigada")
    assert found is not None and found.name == "Cartera castigada 2019"
    assert found.reassign_after_seconds == 20 * 60 and not found.active
    assert found.closing_message == "Gracias por escribirnos."

    bad = _post(admin_client, "/admin/campaigns/castigada", {**form, "timezone": "Marte/Olympus"})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    found = _campaign(web_rt, "castigada")
    assert found is not None and found.timezone == "America/Lima"  # nothing half-saved


def test_unknown_campaign_is_not_found(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/campaigns/nope").status_code == 404
    assert admin_client.get("/admin/campaigns/nope/upload").status_code == 404


def test_numbers_of_a_campaign(admin_client: FlaskClient, web_rt: Runtime) -> None:
    page = "/admin/campaigns/castigada"
    response = _post(
        admin_client,
        "/admin/campaigns/castigada/numbers",
        {"address": "whatsapp:+576015550999", "flow": "cobranza", "action": "add"},
        page,
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    with web_rt.sessions() as session:
        number = session.scalars(select(SenderNumber)).one()
        assert number.flow_id == "cobranza" and [c.slug for c in number.campaigns] == ["castigada"]
    shown = admin_client.get(page).get_data(as_text=True)
    assert "whatsapp:+576015550999" in shown.split('id="numbers-table"')[1]

    bad = _post(
        admin_client,
        "/admin/campaigns/castigada/numbers",
        {"address": "3001234567", "flow": "cobranza"},
        page,
    )
    assert bad.status_code == 302  # type: ignore[attr-defined]
    assert "no es un número" in admin_client.get(page).get_data(as_text=True)

    removed = _post(
        admin_client,
        "/admin/campaigns/castigada/numbers",
        {"address": "whatsapp:+576015550999", "action": "remove"},
        page,
    )
    assert removed.status_code == 302  # type: ignore[attr-defined]
    assert "ahora atiende todas" in admin_client.get(page).get_data(as_text=True)


def test_create_an_agent_with_a_generated_password(
    admin_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    form = {
        "email": "Nuevo.Agente@X.co",
        "name": "Nuevo Agente",
        "role": "agent",
        "campaigns": str(world.campaigns["a"]),
        "capacity": "3",
        "weight": "2",
        "active": "on",
        "password": "",
    }
    response = _post(admin_client, "/admin/people/new", form)
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)  # type: ignore[attr-defined]
    shown = page.split("se muestra una sola vez): ")[1].split("<")[0]
    with web_rt.sessions() as session:
        person = session.scalars(select(User).where(User.email == "nuevo.agente@x.co")).one()
        assert person.role == Role.AGENT and (person.capacity, person.weight) == (3, 2)
        assert [c.slug for c in person.campaigns] == ["castigada"]
        assert check_password(person, shown)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"capacity": "0"}, "capacity", "de 1 a 100"),
        ({"weight": "mucho"}, "weight", "no es un número entero"),
        ({"email": "ana@x.co"}, "email", "ya existe"),
        ({"email": "no-es-correo"}, "email", "no es un correo válido"),
        ({"password": "corta"}, "password", "al menos 8"),
    ],
)
def test_bad_person_input_is_refused_naming_the_field(
    admin_client: FlaskClient, change: dict[str, str], field: str, words: str
) -> None:
    form = {"email": "otra@x.co", "name": "Otra", "role": "agent", "capacity": "5",
            "weight": "1", "active": "on", "password": "", **change}  # fmt: skip
    response = _post(admin_client, "/admin/people/new", form)
    assert response.status_code == 422  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert words in page.split(f'id="e-{field}"')[1].split("</p>")[0]


def test_edit_and_deactivate_an_agent(
    admin_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    agent_id = world.users["agent_a"]
    page = f"/admin/people/{agent_id}"
    shown = admin_client.get(page).get_data(as_text=True)
    assert "Tiene 1 chats abiertos" in shown  # a_assigned: stays theirs, the page warns
    form = {
        "name": "Ana María",
        "role": "agent",
        "campaigns": [str(world.campaigns["a"]), str(world.campaigns["b"])],
        "capacity": "8",
        "weight": "3",
        "password": "",
    }
    token = page_token(admin_client, page)
    response = admin_client.post(page, data={"csrf_token": token, **form})
    assert response.status_code == 302
    with web_rt.sessions() as session:
        person = session.get(User, agent_id)
        assert person is not None and not person.active
        assert person.presence == Presence.OFFLINE
        assert (person.name, person.capacity, person.weight) == ("Ana María", 8, 3)
        assert sorted(c.slug for c in person.campaigns) == ["castigada", "ventas"]


def test_an_admin_cannot_lock_themselves_out(
    admin_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    page = f"/admin/people/{world.users['admin']}"
    form = {"name": "Root", "role": "agent", "capacity": "5", "weight": "1", "active": "on"}
    response = _post(admin_client, page, form)
    assert response.status_code == 422  # type: ignore[attr-defined]
    with web_rt.sessions() as session:
        person = session.get(User, world.users["admin"])
        assert person is not None and person.role == Role.ADMIN and person.active


def test_sender_health_and_resuming_a_paused_number(
    admin_client: FlaskClient, web_rt: Runtime
) -> None:
    with web_rt.sessions.begin() as session:
        session.add(
            SenderNumber(
                address="whatsapp:+576015550111",
                flow_id="cobranza",
                paused_at=utcnow() - timedelta(hours=1),
            )
        )
    page = admin_client.get("/admin/senders").get_data(as_text=True)
    row = page.split('data-address="whatsapp:+576015550111"')[1].split("</tr>")[0]
    assert "en pausa" in row and "Reanudar envíos" in row
    response = _post(
        admin_client,
        "/admin/senders/resume",
        {"address": "whatsapp:+576015550111"},
        "/admin/senders",
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    with web_rt.sessions() as session:
        number = session.scalars(select(SenderNumber)).one()
        assert number.paused_at is None
    assert "reanudado" in admin_client.get("/admin/senders").get_data(as_text=True)


def test_flows_their_problems_and_diagram(admin_client: FlaskClient, web_rt: Runtime) -> None:
    flows_dir = web_rt.settings.flows_dir
    (flows_dir / "roto.yaml").write_text(
        "flow: roto\nstart: hola\nsteps:\n  hola:\n    type: say\n    next: nadie\n",
        encoding="utf-8",
    )
    services_library = web_rt.flows.library
    services_library.refresh(force=True)
    page = admin_client.get("/admin/flows").get_data(as_text=True)
    table = page.split('id="flows-table"')[1].split("</table>")[0]
    assert "cobranza" in table and "servicio" in table and "identificacion" in table
    assert "roto" not in table
    problems = page.split("Archivos con problemas")[1]
    assert "roto.yaml" in problems and "nadie" in problems

    diagram = admin_client.get("/admin/flows/cobranza").get_data(as_text=True)
    svg = diagram.split('id="diagram">')[1].split("</svg>")[0]
    assert svg.startswith("<svg") and "buscar_cliente" in svg
    assert "flowchart TD" in diagram  # the Mermaid source, to paste elsewhere
    assert admin_client.get("/admin/flows/roto").status_code == 404


def test_admin_posts_need_the_csrf_token(admin_client: FlaskClient, web_rt: Runtime) -> None:
    response = admin_client.post("/admin/campaigns/new", data=CAMPAIGN_FORM)
    assert response.status_code == 400
    assert _campaign(web_rt, "ventas-2027") is None


def test_admin_pages_in_english(admin_client: FlaskClient) -> None:
    admin_client.get("/lang/en?next=/admin/")
    page = admin_client.get("/admin/campaigns/new").get_data(as_text=True)
    assert "New campaign" in page and "Time zone" in page and "Nueva campaña" not in page
