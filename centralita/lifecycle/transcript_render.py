"""Drawing a transcript: TranscriptData -> HTML (Jinja2, autoescaped) -> PDF (WeasyPrint).

Pure apart from WeasyPrint itself: no database, no files written. What is costly to build
(the parsed stylesheet, the font configuration, the Jinja template) is built once per process
and reused, so a warm worker spends its time on layout only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from centralita.core.models import Author, Direction, MessageStatus
from centralita.lifecycle.transcript_data import TranscriptData, TranscriptMessage
from centralita.lifecycle.transcript_labels import labels

_BAD = {MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.CANCELED}
# WeasyPrint does not promise that one FontConfiguration may be shared by threads at once;
# the web process may render from job threads, so renders in one process take turns.
_LOCK = threading.Lock()


class _NoFetching(URLFetcher):  # type: ignore[misc]
    """Transcripts load nothing from outside: customer texts are escaped, but should anything
    ever name a URL (an image, a stylesheet), the renderer must not fetch it (SSRF, leaks)."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        raise ValueError(f"transcripts fetch no external resources ({url[:80]})")


@dataclass(frozen=True, slots=True)
class _Shared:
    fonts: FontConfiguration
    template: Template
    fetcher: _NoFetching


@cache
def _shared() -> _Shared:
    env = Environment(
        loader=PackageLoader("centralita.lifecycle", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    return _Shared(FontConfiguration(), env.get_template("transcript.html"), _NoFetching())


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


@cache
def stylesheet(language: str) -> CSS:
    """The parsed stylesheet for `language`: parsing CSS costs as much as laying out a page,
    so it happens once per process and language."""
    words = labels(language)
    css = files("centralita.lifecycle").joinpath("templates/transcript.css").read_text()
    # The foot's one line: when the PDF was made, then "Página X de Y".
    pages = (
        f"@page {{ @bottom-center {{ content: string(generated) "
        f"{_css_string(' · ' + words['page'] + ' ')} counter(page) "
        f"{_css_string(' ' + words['of'] + ' ')} counter(pages); }} }}"
    )
    shared = _shared()
    return CSS(string=css + pages, font_config=shared.fonts, url_fetcher=shared.fetcher)


def zone(name: str) -> tzinfo:
    """The campaign's zone; UTC (and it says so) if the name is unknown to this machine."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_label(when: datetime, tz: tzinfo) -> str:
    """'America/Bogota, UTC-05:00': the name for people, the offset for the unambiguous time."""
    local = when.astimezone(tz)
    offset = local.strftime("%z") or "+0000"
    return f"{getattr(tz, 'key', 'UTC')}, UTC{offset[:3]}:{offset[3:]}"


def local_time(when: datetime, tz: tzinfo) -> str:
    return when.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S")


def transcript_html(
    data: TranscriptData, *, language: str = "es", generated_at: datetime | None = None
) -> str:
    """The transcript as an HTML document (what the PDF is drawn from)."""
    words = labels(language)
    tz = zone(data.timezone)
    generated_at = generated_at or datetime.now(UTC)
    campaign = data.campaign_name or words["no_campaign"]
    return _shared().template.render(
        lang=language,
        L=words,
        chat_id=data.chat_id,
        campaign=campaign,
        generated=(
            f"{words['generated']} {local_time(generated_at, tz)} ({zone_label(generated_at, tz)})"
        ),
        facts=_facts(data, words, tz, campaign),
        assignments=[
            {
                "when": local_time(a.at, tz),
                "kind": words[f"kind_{a.kind.value}"],
                "agent": a.agent or "—",
                "by": a.by or words["router"],
                "reason": a.reason,
            }
            for a in data.assignments
        ],
        message_count=len(data.messages),
        days=_days(data, words, tz),
    )


def render_transcript_pdf(
    data: TranscriptData, *, language: str = "es", generated_at: datetime | None = None
) -> bytes:
    """The transcript's PDF bytes. Raises ValueError for an unknown language."""
    html = transcript_html(data, language=language, generated_at=generated_at)
    shared = _shared()
    with _LOCK:
        document = HTML(string=html, url_fetcher=shared.fetcher).render(
            stylesheets=[stylesheet(language)], font_config=shared.fonts
        )
        pdf: bytes = document.write_pdf()
    return pdf


def _facts(
    data: TranscriptData, words: dict[str, str], tz: tzinfo, campaign: str
) -> list[tuple[str, str]]:
    document = data.customer_document
    if document and data.customer_document_type:
        document = f"{data.customer_document_type} {document}"
    contact = data.contact_address
    if data.contact_name:
        contact = f"{contact} ({data.contact_name})"
    closed_by = None
    if data.closed_by:
        closed_by = words.get(f"closer_{data.closed_by}", data.closed_by)
        if data.closed_by_user:
            closed_by = f"{closed_by}: {data.closed_by_user}"
    return [
        (words["campaign"], campaign + (f" ({data.campaign_slug})" if data.campaign_slug else "")),
        (f"{words['customer']} · {words['document']}", document or words["not_identified"]),
        (f"{words['customer']} · {words['name']}", data.customer_name or words["not_identified"]),
        (words["contact"], contact),
        (words["agents"], "\n".join(data.agents) or words["no_agents"]),
        (words["timezone"], zone_label(data.closed_at or data.opened_at, tz)),
        (words["opened"], local_time(data.opened_at, tz)),
        (
            words["closed"],
            local_time(data.closed_at, tz) if data.closed_at else words["still_open"],
        ),
        (words["close_reason"], data.close_reason or "—"),
        (words["closed_by"], closed_by or "—"),
    ]


def _days(data: TranscriptData, words: dict[str, str], tz: tzinfo) -> list[dict[str, Any]]:
    days: list[dict[str, Any]] = []
    current = None
    for message in data.messages:
        local = message.at.astimezone(tz)
        day = local.strftime("%d/%m/%Y")
        if day != current:
            days.append({"label": day, "messages": []})
            current = day
        days[-1]["messages"].append(_message(message, words, local.strftime("%H:%M:%S")))
    return days


def _message(message: TranscriptMessage, words: dict[str, str], time: str) -> dict[str, Any]:
    author = words[f"author_{message.author.value}"]
    if message.author == Author.AGENT and message.agent:
        author = f"{author}: {message.agent}"
    status = words.get(f"status_{message.status.value}", message.status.value)
    if message.direction == Direction.OUT and message.template:
        status = f"{status} ({words['template']})"
    if message.error_code:
        status = f"{status} · {words['error']} {message.error_code}"
    if message.failure_reason:
        status = f"{status}: {message.failure_reason}"
    bad = message.status in _BAD
    media = [
        f"{words['attachment']}: {' — '.join(p for p in (m.content_type, m.url) if p) or '?'}"
        for m in message.media
    ]
    return {
        "css": message.author.value + (" failed" if bad else ""),
        "meta": f"{time} · {author} · {status}",
        "text": message.text,
        "media": media,
    }
