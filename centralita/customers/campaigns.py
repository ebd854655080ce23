"""Campaigns: creating one (its timers, closing message, time zone) and listing them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centralita.bot.durations import DurationError, format_duration, parse_duration
from centralita.core.models import AssignmentPolicy, Campaign, Customer

# Slugs appear in flows (`campaigns: [castigada]`), URLs and commands: lower-case words.
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?\Z")
# A Twilio Content API template: HX and 32 hex digits.
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}\Z")
DEFAULT_TIMEZONE = "America/Bogota"
DEFAULT_ALERT_AFTER = "30m"
DEFAULT_CLOSE_AFTER = "24h"
MAX_NAME = 200
MAX_ASSIGNMENTS_PER_MINUTE = 600


class CampaignError(ValueError):
    """A campaign setting that cannot be used; `option` names the setting (`--timezone`)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class CampaignExists(CampaignError):
    def __init__(self, slug: str) -> None:
        super().__init__("SLUG", f"campaign {slug!r} already exists")


@dataclass(frozen=True)
class CampaignSummary:
    slug: str
    name: str
    active: bool
    timezone: str
    alert_after: str
    close_after: str
    customers: int  # current ones (not retired)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise CampaignError(
            "SLUG",
            f"{slug!r} is not a campaign slug: use lower-case letters, digits, '-' and '_' "
            "(up to 64, starting and ending with a letter or digit), e.g. cartera-castigada",
        )
    return slug


def _seconds(option: str, value: str) -> int:
    try:
        return int(parse_duration(value).total_seconds())
    except DurationError as exc:
        raise CampaignError(option, str(exc)) from None


def create_campaign(
    session: Session,
    slug: str,
    name: str,
    *,
    alert_after: str = DEFAULT_ALERT_AFTER,
    close_after: str = DEFAULT_CLOSE_AFTER,
    closing_message: str | None = None,
    closing_template: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Campaign:
    """Add a campaign; CampaignError when a setting is wrong or the slug is taken."""
    check_slug(slug)
    name = _check_name(name)
    alert_seconds = _seconds("--alert-after", alert_after)
    close_seconds = _seconds("--close-after", close_after)
    _check_closing(closing_message, closing_template)
    _check_timezone(timezone)
    if session.scalar(select(Campaign.id).where(Campaign.slug == slug)) is not None:
        raise CampaignExists(slug)
    campaign = Campaign(
        slug=slug,
        name=name,
        alert_after_seconds=alert_seconds,
        close_after_seconds=close_seconds,
        closing_message=closing_message,
        closing_template_sid=closing_template,
        timezone=timezone,
    )
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError:  # created by someone else since the check above
        raise CampaignExists(slug) from None
    return campaign


@dataclass(frozen=True)
class CampaignSettings:
    """Everything about a campaign but its slug, as people write it (durations as `30m`)."""

    name: str
    alert_after: str
    close_after: str
    closing_message: str | None
    closing_template: str | None
    timezone: str
    assignment_policy: str
    manual_assignment: bool
    active: bool
    reassign_after: str | None = None  # None: chats are never reassigned for silence
    max_assignments_per_minute: int = 6


def campaign_settings(campaign: Campaign) -> CampaignSettings:
    """A campaign's current settings, in the form `update_campaign` takes."""
    reassign = campaign.reassign_after_seconds
    return CampaignSettings(
        name=campaign.name,
        alert_after=format_duration_seconds(campaign.alert_after_seconds),
        close_after=format_duration_seconds(campaign.close_after_seconds),
        closing_message=campaign.closing_message,
        closing_template=campaign.closing_template_sid,
        timezone=campaign.timezone,
        assignment_policy=str(campaign.assignment_policy),
        manual_assignment=campaign.manual_assignment,
        active=campaign.active,
        reassign_after=None if reassign is None else format_duration_seconds(reassign),
        max_assignments_per_minute=campaign.max_assignments_per_minute,
    )


def update_campaign(campaign: Campaign, settings: CampaignSettings) -> Campaign:
    """Change every setting of `campaign` at once, or none: CampaignError names the first
    setting that cannot be used (`--timezone`, `--alert-after`...)."""
    name = _check_name(settings.name)
    alert_seconds = _seconds("--alert-after", settings.alert_after)
    close_seconds = _seconds("--close-after", settings.close_after)
    reassign_seconds = (
        None
        if settings.reassign_after is None
        else _seconds("--reassign-after", settings.reassign_after)
    )
    _check_closing(settings.closing_message, settings.closing_template)
    _check_timezone(settings.timezone)
    try:
        policy = AssignmentPolicy(settings.assignment_policy)
    except ValueError:
        known = ", ".join(p.value for p in AssignmentPolicy)
        raise CampaignError(
            "--assignment-policy",
            f"{settings.assignment_policy!r} is not an assignment policy ({known})",
        ) from None
    if not 1 <= settings.max_assignments_per_minute <= MAX_ASSIGNMENTS_PER_MINUTE:
        raise CampaignError(
            "--max-assignments-per-minute",
            f"assignments per agent per minute must be 1 to {MAX_ASSIGNMENTS_PER_MINUTE}",
        )
    campaign.name = name
    campaign.alert_after_seconds = alert_seconds
    campaign.close_after_seconds = close_seconds
    campaign.reassign_after_seconds = reassign_seconds
    campaign.closing_message = settings.closing_message
    campaign.closing_template_sid = settings.closing_template
    campaign.timezone = settings.timezone
    campaign.assignment_policy = policy
    campaign.manual_assignment = settings.manual_assignment
    campaign.active = settings.active
    campaign.max_assignments_per_minute = settings.max_assignments_per_minute
    return campaign


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise CampaignError("--name", f"the name must have 1 to {MAX_NAME} characters")
    return name


def _check_closing(closing_message: str | None, closing_template: str | None) -> None:
    if closing_template is not None and not CONTENT_SID.match(closing_template):
        raise CampaignError(
            "--closing-template",
            f"{closing_template!r} is not a Content template SID (HX and 32 hexadecimal "
            "digits, from Twilio's Content Template Builder)",
        )
    if closing_message is not None and not closing_message.strip():
        raise CampaignError("--closing-message", "the closing message is empty")


def _check_timezone(timezone: str) -> None:
    if timezone not in _timezones():
        raise CampaignError(
            "--timezone",
            f"{timezone!r} is not an IANA time zone: use one such as America/Bogota, "
            "America/Mexico_City, America/Lima or America/Santiago",
        )


def list_campaigns(session: Session) -> list[CampaignSummary]:
    current = (
        select(Customer.campaign_id, func.count().label("customers"))
        .where(Customer.retired_at.is_(None))
        .group_by(Customer.campaign_id)
        .subquery()
    )
    rows = session.execute(
        select(Campaign, func.coalesce(current.c.customers, 0))
        .outerjoin(current, current.c.campaign_id == Campaign.id)
        .order_by(Campaign.slug)
    ).all()
    return [
        CampaignSummary(
            slug=campaign.slug,
            name=campaign.name,
            active=campaign.active,
            timezone=campaign.timezone,
            alert_after=format_duration_seconds(campaign.alert_after_seconds),
            close_after=format_duration_seconds(campaign.close_after_seconds),
            customers=int(customers),
        )
        for campaign, customers in rows
    ]


def format_duration_seconds(seconds: int) -> str:
    return format_duration(timedelta(seconds=seconds))
