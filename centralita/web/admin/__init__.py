"""Admin pages: campaigns (settings, numbers, customer files), people, sender health, flows.

Admins only. Each area is a module that adds its views to this blueprint; the actions are the
domain's (`create_campaign` / `update_campaign`, the customer importer, `create_user`,
`resume_sender`), so the pages and the command line follow the same rules.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from centralita.core.db import READ_ONLY
from centralita.core.models import Campaign, Role, SenderNumber, User
from centralita.web.admin.texts import LEVELS, POLICY_NAMES, ROLE_NAMES, UPLOAD_STATES
from centralita.web.login import login_required
from centralita.web.services import services

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    static_folder="static",
    static_url_path="/static",
)


@bp.get("/")
@login_required(Role.ADMIN)
def index() -> str:
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        counts = {
            "campaigns": session.scalar(select(func.count()).select_from(Campaign)) or 0,
            "people": session.scalar(select(func.count()).select_from(User)) or 0,
            "numbers": session.scalar(select(func.count()).select_from(SenderNumber)) or 0,
        }
    library = services().flows.library
    library.maybe_refresh()
    counts["flows"] = len(library.flows)
    problems = sum(1 for p in library.problems if p.severity == "error")
    return render_template("admin/index.html", counts=counts, flow_problems=problems)


@bp.context_processor
def _names() -> dict[str, object]:
    return {
        "POLICY_NAMES": POLICY_NAMES,
        "UPLOAD_STATES": UPLOAD_STATES,
        "ROLE_NAMES": ROLE_NAMES,
        "LEVELS": LEVELS,
    }


# The areas register their views on `bp` when imported.
from centralita.web.admin import (  # noqa: E402
    campaign_pages,
    people_pages,
    system_pages,
    upload_pages,
)

__all__ = ["bp", "campaign_pages", "people_pages", "system_pages", "upload_pages"]
