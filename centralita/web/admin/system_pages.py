"""Admin: sending health of our numbers (and resuming a paused one), and the flows: which
are served, their problems, their diagram."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from centralita.bot.graph import mermaid
from centralita.channels.health import health_report
from centralita.channels.senders import UnknownSender, resume_sender
from centralita.core.db import READ_ONLY
from centralita.core.models import Role, utcnow
from centralita.web.admin import bp
from centralita.web.admin.diagram import flow_diagram
from centralita.web.admin.texts import _
from centralita.web.login import login_required
from centralita.web.services import services


@bp.get("/senders")
@login_required(Role.ADMIN)
def senders() -> str:
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        report = health_report(session, utcnow())
    return render_template("admin/senders.html", report=report)


@bp.post("/senders/resume")
@login_required(Role.ADMIN)
def resume() -> Any:
    address = request.form.get("address", "")
    try:
        with services().sessions.begin() as session:
            done = resume_sender(session, address, utcnow())
    except UnknownSender:
        abort(404)
    flash(
        _(
            "%(address)s reanudado: %(n)s mensajes retenidos vuelven a la cola de envío.",
            address=done.address,
            n=done.released,
        ),
        "info",
    )
    return redirect(url_for("admin.senders"))


@bp.get("/flows")
@login_required(Role.ADMIN)
def flows() -> str:
    library = services().flows.library
    library.maybe_refresh()
    problems: dict[str, list[Any]] = defaultdict(list)
    for problem in library.problems:
        problems[problem.file].append(problem)
    served = sorted(library.flows.values(), key=lambda f: f.id)
    served_files = {f.path for f in served}
    broken = sorted(f for f in problems if f not in served_files)
    return render_template("admin/flows.html", flows=served, problems=problems, broken=broken)


@bp.get("/flows/<flow_id>")
@login_required(Role.ADMIN)
def flow(flow_id: str) -> str:
    library = services().flows.library
    library.maybe_refresh()
    found = library.current(flow_id)
    if found is None:
        abort(404)
    problems = [p for p in library.problems if p.file == found.path]
    return render_template(
        "admin/flow.html",
        flow=found,
        problems=problems,
        svg=flow_diagram(found),
        mermaid=mermaid(found),
        edges=found.edges(),
    )
