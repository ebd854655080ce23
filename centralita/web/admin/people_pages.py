"""Admin: people (agents, supervisors, admins): create, edit, campaigns, capacity, weight,
deactivate."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from centralita.core.db import READ_ONLY
from centralita.core.models import Campaign, Chat, ChatStatus, Role, User, utcnow
from centralita.routing.errors import InvalidRequest
from centralita.routing.queue import drain_queue
from centralita.routing.users import UserExists, create_user, generate_password
from centralita.web.admin import bp
from centralita.web.admin.forms import FieldError, checked, whole_number
from centralita.web.admin.people import (
    PersonChange,
    check_numbers,
    check_password_strength,
    open_chats,
    update_person,
)
from centralita.web.admin.texts import ROLE_NAMES, _
from centralita.web.login import login_required, user
from centralita.web.services import services


@bp.get("/people")
@login_required(Role.ADMIN)
def people() -> str:
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        persons = session.scalars(
            select(User)
            .options(selectinload(User.campaigns))  # one query, not one per person
            .order_by(User.active.desc(), User.name)
        ).all()
        counted = session.execute(
            select(Chat.agent_id, func.count())
            .where(Chat.status == ChatStatus.ASSIGNED)
            .group_by(Chat.agent_id)
        )
        loads = {agent_id: int(n) for agent_id, n in counted if agent_id is not None}
        return render_template(
            "admin/people.html", people=persons, loads=loads, role_names=ROLE_NAMES
        )


def _campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.name)))


def _chosen_campaigns(session: Session) -> list[Campaign]:
    ids = {int(v) for v in request.form.getlist("campaigns") if v.isdigit()}
    return [c for c in _campaigns(session) if c.id in ids]


def _form(
    session: Session,
    person: User | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    page = render_template(
        "admin/person.html",
        person=person,
        values=values,
        errors=errors or {},
        campaigns=_campaigns(session),
        roles=[(r.value, ROLE_NAMES[r.value]) for r in Role],
        holding=open_chats(session, person.id) if person is not None else 0,
    )
    return page, status


def _posted_values() -> dict[str, Any]:
    form = request.form
    return {
        "email": form.get("email", "").strip(),
        "name": form.get("name", ""),
        "role": form.get("role", Role.AGENT.value),
        "campaign_ids": {int(v) for v in form.getlist("campaigns") if v.isdigit()},
        "capacity": form.get("capacity", "5"),
        "weight": form.get("weight", "1"),
        "active": checked(form, "active"),
    }


@bp.route("/people/new", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def new_person() -> Any:
    with services().sessions() as session:
        if request.method == "GET":
            return _form(session, None, dict(_BLANK))
    values = _posted_values()
    password = request.form.get("password", "")
    generated = not password
    try:
        capacity = whole_number(request.form, "capacity", 5)
        weight = whole_number(request.form, "weight", 1)
        check_numbers(capacity, weight)
        if generated:
            password = generate_password()
        else:
            check_password_strength(password)
        with services().sessions.begin() as session:
            person = create_user(
                session,
                values["email"],
                name=values["name"],
                role=values["role"],
                password=password,
                campaigns=_chosen_campaigns(session),
                capacity=capacity,
                weight=weight,
            )
            person_id = person.id
    except FieldError as exc:
        with services().sessions() as session:
            return _form(session, None, values, {exc.field: exc.translated()}, 422)
    except InvalidRequest as exc:
        field = "email" if isinstance(exc, UserExists) or "email" in str(exc) else "name"
        if "role" in str(exc):
            field = "role"
        message = _(_CREATE_ERRORS[field], value=values.get(field, ""))
        with services().sessions() as session:
            return _form(session, None, values, {field: message}, 422)
    if generated:
        flash(_("Contraseña generada (se muestra una sola vez): %(password)s", password=password))
    flash(_("%(email)s creado.", email=values["email"].lower()), "info")
    return redirect(url_for("admin.person", person_id=person_id))


_BLANK: dict[str, Any] = {
    "email": "",
    "name": "",
    "role": "agent",
    "campaign_ids": set(),
    "capacity": 5,
    "weight": 1,
    "active": True,
}
_SELF_LOCKOUT = "no puedes desactivarte ni quitarte el rol de administrador"
_CREATE_ERRORS = {
    "email": "«%(value)s» no es un correo válido o ya existe una persona con ese correo",
    "name": "escribe el nombre",
    "role": "«%(value)s» no es un rol",
}


@bp.route("/people/<int:person_id>", methods=["GET", "POST"])
@login_required(Role.ADMIN)
def person(person_id: int) -> Any:
    if request.method == "GET":
        with services().sessions() as session:
            found = session.get(User, person_id)
            if found is None:
                abort(404)
            values: dict[str, Any] = {
                "email": found.email,
                "name": found.name,
                "role": found.role.value,
                "campaign_ids": {c.id for c in found.campaigns},
                "capacity": found.capacity,
                "weight": found.weight,
                "active": found.active,
            }
            return _form(session, found, values)
    values = _posted_values()
    try:
        with services().sessions.begin() as session:
            found = session.get(User, person_id)
            if found is None:
                abort(404)
            change = PersonChange(
                name=values["name"],
                role=values["role"],
                campaigns=_chosen_campaigns(session),
                capacity=whole_number(request.form, "capacity", found.capacity),
                weight=whole_number(request.form, "weight", found.weight),
                active=values["active"],
                password=request.form.get("password") or None,
            )
            if person_id == user().id and (not change.active or change.role != Role.ADMIN):
                # Nobody locks themselves out: another admin must do it.
                raise FieldError(
                    "active", "no puedes desactivarte ni quitarte el rol de administrador"
                )
            more_room = update_person(
                session, found, change, utcnow(), keep_session_id=user().web_session_id
            )
    except FieldError as exc:
        with services().sessions() as session:
            found = session.get(User, person_id)
            return _form(session, found, values, {exc.field: exc.translated()}, 422)
    if more_room:
        drain_queue(services().sessions, utcnow(), agent_id=person_id)
    flash(_("Cambios guardados."), "info")
    return redirect(url_for("admin.person", person_id=person_id))
