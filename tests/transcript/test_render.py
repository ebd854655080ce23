"""render_transcript_pdf and transcript_html from plain data: no database, no files."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from centralita.core.models import Author, Direction, MessageStatus
from centralita.lifecycle.transcript import TranscriptData, render_transcript_pdf
from centralita.lifecycle.transcript_data import TranscriptMessage
from centralita.lifecycle.transcript_render import transcript_html

from .conftest import pdf_text

AT = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)


def said(
    text: str, author: Author = Author.CUSTOMER, status: MessageStatus = MessageStatus.RECEIVED
) -> TranscriptMessage:
    direction = Direction.IN if author == Author.CUSTOMER else Direction.OUT
    return TranscriptMessage(at=AT, author=author, direction=direction, text=text, status=status)


def chat(**changes: object) -> TranscriptData:
    fields: dict[str, object] = {
        "chat_id": 77,
        "timezone": "UTC",
        "opened_at": AT,
        "closed_at": AT + timedelta(hours=2),
        "contact_address": "whatsapp:+573009998877",
        "messages": (said("hola"),),
    }
    fields.update(changes)
    return TranscriptData(**fields)  # type: ignore[arg-type]


def test_a_chat_without_campaign_customer_or_agent_says_so() -> None:
    text = pdf_text(render_transcript_pdf(chat()))
    assert "Sin campaña" in text
    assert "Cliente · Documento Sin identificar" in text
    assert "Ninguno (atendido solo por el bot)" in text
    assert "El chat no fue asignado a ningún agente." in text
    assert "Zona horaria UTC, UTC+00:00" in text


def test_times_follow_the_zones_daylight_saving() -> None:
    # Madrid moves from UTC+01:00 to UTC+02:00 at 01:00 UTC on 29 March 2026.
    text = pdf_text(render_transcript_pdf(chat(timezone="Europe/Madrid")))
    assert "Apertura 29/03/2026 00:30:00" in text  # 23:30 UTC, +01:00, the next local day
    assert "Cierre 29/03/2026 03:30:00" in text  # 01:30 UTC, +02:00
    assert "Europe/Madrid, UTC+02:00" in text


def test_an_unknown_zone_falls_back_to_utc_and_says_so() -> None:
    text = pdf_text(render_transcript_pdf(chat(timezone="Mars/Olympus")))
    assert "Zona horaria UTC, UTC+00:00" in text and "Apertura 28/03/2026 23:30:00" in text


def test_markup_in_messages_is_escaped_in_the_html() -> None:
    hostile = '<script>alert(1)</script><style>*{display:none}</style><a href="x">y</a>'
    message = said(hostile)
    html = transcript_html(chat(messages=(message,), customer_name="<b>Eve</b>"))
    assert "<script" not in html and "<a href" not in html and "<b>Eve" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html


def test_a_long_unbroken_word_wraps_and_is_not_cut() -> None:
    token = "https://pagos.example.co/" + "x" * 600 + "END"
    message = said(f"Pague aquí: {token}", Author.BOT, MessageStatus.DELIVERED)
    text = pdf_text(render_transcript_pdf(chat(messages=(message,))))
    assert token in text.replace(" ", "")


def test_line_breaks_in_a_message_are_kept() -> None:
    message = said("uno\ndos\n\ntres", Author.AGENT, MessageStatus.READ)
    html = transcript_html(chat(messages=(message,)))
    assert "uno\ndos\n\ntres" in html  # shown as written: the paragraph is white-space: pre-wrap


def test_an_unknown_language_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'fr' is not one of es, en"):
        render_transcript_pdf(chat(), language="fr")


def test_emoji_are_drawn_with_a_font_that_has_them() -> None:
    message = said("Gracias 🙏👍")
    pdf = render_transcript_pdf(chat(messages=(message,)))
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    # Not a missing-glyph box: Symbola (fonts-symbola, installed by .ci/run) draws them.
    assert any("Symbola" in name for name in fonts), fonts
    assert "Gracias 🙏👍" in pdf_text(pdf)


def test_a_message_longer_than_a_page_continues_on_the_next() -> None:
    words = [f"w{n:04d}" for n in range(700)]  # WhatsApp's longest text is 4,096 characters
    pdf = render_transcript_pdf(chat(messages=(said(" ".join(words)),)))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    text = pdf_text(pdf)
    assert [w for w in words if w not in text] == []
    assert text.index("w0000") < text.index("w0699")
