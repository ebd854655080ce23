"""Admin: campaigns (list, create, settings) and the numbers that serve each."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.channels.inbound import is_address
from centralita.core.db import READ_ONLY
from centralita.core.models import AssignmentPolicy, Campaign, Role, SenderNumber, utcnow
from centralita.customers.campaigns import (
    DEFAULT_ALERT_AFTER,
    DEFAULT_CLOSE_AFTER,
    DEFAULT_TIMEZONE,
    CampaignError,
    CampaignSettings,
    campaign_settings,
    create_campaign,
    list_campaigns,
    update_campaign,
)
from centralita.routing.queue import drain_queue
from centralita.web.admin import bp
from centralita.web.admin.forms import FieldError, checked, optional_text, whole_number
from centralita.web.admin.texts import CAMPAIGN_ERRORS, _
from centralita.web.admin.uploads import recent_uploads
from centralita.web.login import login_required
from centralita.web.services import services

ADMIN = Role.ADMIN
# Offered in the form (any IANA zone is accepted): where Centralita's users mostly are.
COMMON_TIMEZONES = (
    "America/Bogota", "America/Mexico_City", "America/Lima", "America/Santiago",
    "America/Argentina/Buenos_Aires", "America/Guayaquil", "America/Caracas",
    "America/Panama", "America/Santo_Domingo", "Europe/Madrid", "UTC",
)  # fmt: skip


@bp.get("/campaigns")
@login_required(ADMIN)
def campaigns() -> str:
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        rows = list_campaigns(session)
    return render_template("admin/campaigns.html", campaigns=rows)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required(ADMIN)
def new_campaign() -> Any:
    if request.method == "GET":
        blank = CampaignSettings(
            name="",
            alert_after=DEFAULT_ALERT_AFTER,
            close_after=DEFAULT_CLOSE_AFTER,
            closing_message=None,
            closing_template=None,
            timezone=DEFAULT_TIMEZONE,
            assignment_policy=AssignmentPolicy.LEAST_LOAD.value,
            manual_assignment=False,
            active=True,
        )
        return _form_page(None, blank, slug="")
    slug = request.form.get("slug", "").strip()
    try:
        wanted = _settings_from_form()
        with services().sessions.begin() as session:
            campaign = create_campaign(
                session,
                slug,
                wanted.name,
                alert_after=wanted.alert_after,
                close_after=wanted.close_after,
                closing_message=wanted.closing_message,
                closing_template=wanted.closing_template,
                timezone=wanted.timezone,
            )
            update_campaign(campaign, wanted)
    except FieldError as exc:
        return _form_page(None, _settings_or_blank(), slug=slug, errors=_field_errors(exc))
    except CampaignError as exc:
        return _form_page(None, _settings_or_blank(), slug=slug, errors=_campaign_errors(exc))
    flash(_("Campaña «%(name)s» creada.", name=wanted.name), "info")
    return redirect(url_for("admin.campaign", slug=slug))


@bp.route("/campaigns/<slug>", methods=["GET", "POST"])
@login_required(ADMIN)
def campaign(slug: str) -> Any:
    if request.method == "GET":
        with services().sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            found = _campaign_or_404(session, slug)
            return _form_page(found, campaign_settings(found), slug=slug)
    try:
        wanted = _settings_from_form()
        with services().sessions.begin() as session:
            found = _campaign_or_404(session, slug)
            was_manual = found.manual_assignment
            update_campaign(found, wanted)
            campaign_id = found.id
    except FieldError as exc:
        return _edit_again(slug, _field_errors(exc))
    except CampaignError as exc:
        return _edit_again(slug, _campaign_errors(exc))
    if was_manual != wanted.manual_assignment or wanted.active:
        # A campaign turned active (or whose rules changed) may have chats for its agents.
        drain_queue(services().sessions, utcnow(), campaign_id)
    flash(_("Cambios guardados."), "info")
    return redirect(url_for("admin.campaign", slug=slug))


def _edit_again(slug: str, errors: dict[str, str]) -> Any:
    with services().sessions() as session:
        found = _campaign_or_404(session, slug)
        return _form_page(found, _settings_or_blank(), slug=slug, errors=errors)


def _campaign_or_404(session: Session, slug: str) -> Campaign:
    found = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if found is None:
        abort(404)
    return found


def _settings_from_form() -> CampaignSettings:
    form = request.form
    return CampaignSettings(
        name=form.get("name", ""),
        alert_after=form.get("alert_after", "").strip(),
        close_after=form.get("close_after", "").strip(),
        closing_message=optional_text(form, "closing_message"),
        closing_template=optional_text(form, "closing_template"),
        timezone=form.get("timezone", "").strip(),
        assignment_policy=form.get("assignment_policy", ""),
        manual_assignment=checked(form, "manual_assignment"),
        active=checked(form, "active"),
        reassign_after=optional_text(form, "reassign_after"),
        max_assignments_per_minute=whole_number(form, "max_assignments_per_minute", 6),
    )


def _settings_or_blank() -> CampaignSettings:
    """What was posted, even when a number in it was not a number (to show it again)."""
    try:
        return _settings_from_form()
    except FieldError:
        form = request.form
        return CampaignSettings(
            name=form.get("name", ""),
            alert_after=form.get("alert_after", ""),
            close_after=form.get("close_after", ""),
            closing_message=form.get("closing_message"),
            closing_template=form.get("closing_template"),
            timezone=form.get("timezone", ""),
            assignment_policy=form.get("assignment_policy", ""),
            manual_assignment=checked(form, "manual_assignment"),
            active=checked(form, "active"),
            reassign_after=form.get("reassign_after"),
        )


def _field_errors(exc: FieldError) -> dict[str, str]:
    return {exc.field: exc.translated()}


def _campaign_errors(exc: CampaignError) -> dict[str, str]:
    field, text = CAMPAIGN_ERRORS.get(exc.option, ("name", ""))
    message = _(text) if text else str(exc)
    if exc.option in ("--alert-after", "--close-after", "--reassign-after"):
        message = f"{message} ({exc})"
    return {field: message}


def _form_page(
    found: Campaign | None,
    values: CampaignSettings,
    *,
    slug: str,
    errors: dict[str, str] | None = None,
) -> Any:
    numbers: list[SenderNumber] = []
    uploads = []
    flows: list[str] = []
    if found is not None:
        with services().sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            numbers = list(session.scalars(select(SenderNumber).order_by(SenderNumber.address)))
            number_rows = [
                {
                    "address": n.address,
                    "flow": n.flow_id,
                    "campaigns": [c.slug for c in n.campaigns],
                    "serves": not n.campaigns or any(c.slug == slug for c in n.campaigns),
                    "only_this": [c.slug for c in n.campaigns] == [slug],
                }
                for n in numbers
            ]
        uploads = recent_uploads(services().settings.storage_dir, slug)
        library = services().flows.library
        library.maybe_refresh()
        flows = sorted(library.flows)
    else:
        number_rows = []
    page = render_template(
        "admin/campaign.html",
        campaign=found,
        slug=slug,
        values=values,
        errors=errors or {},
        numbers=number_rows,
        uploads=uploads,
        flows=flows,
        policies=[p.value for p in AssignmentPolicy],
        timezones=COMMON_TIMEZONES,
    )
    return (page, 422) if errors else page


@bp.post("/campaigns/<slug>/numbers")
@login_required(ADMIN)
def campaign_numbers(slug: str) -> Any:
    """Add a number to this campaign (new or existing), or take it out of the campaign."""
    address = request.form.get("address", "").strip()
    action = request.form.get("action", "add")
    flow_id = request.form.get("flow", "").strip()
    if not is_address(address):
        flash(
            _(
                "«%(address)s» no es un número: usa whatsapp:+E164 (por ejemplo "
                "whatsapp:+576015550100) o +E164 para SMS.",
                address=address,
            ),
            "error",
        )
        return redirect(url_for("admin.campaign", slug=slug) + "#numbers")
    with services().sessions.begin() as session:
        found = _campaign_or_404(session, slug)
        number = session.scalar(select(SenderNumber).where(SenderNumber.address == address))
        if action == "remove":
            if number is not None:
                number.campaigns = [c for c in number.campaigns if c.id != found.id]
                message = _("%(address)s ya no atiende esta campaña.", address=address)
                if not number.campaigns:
                    message += " " + _("Sin campañas, ahora atiende todas.")
                flash(message, "info")
            return redirect(url_for("admin.campaign", slug=slug) + "#numbers")
        if number is None:
            library = services().flows.library
            library.maybe_refresh()
            if library.current(flow_id) is None:
                flash(_("Elige un flujo válido para el número nuevo."), "error")
                return redirect(url_for("admin.campaign", slug=slug) + "#numbers")
            number = SenderNumber(address=address, flow_id=flow_id, campaigns=[])
            session.add(number)
        if all(c.id != found.id for c in number.campaigns):
            number.campaigns = [*number.campaigns, found]
        flash(_("%(address)s atiende esta campaña.", address=address), "info")
    return redirect(url_for("admin.campaign", slug=slug) + "#numbers")
