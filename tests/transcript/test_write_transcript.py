"""write_transcript on SQLite and PostgreSQL: the PDF's facts read back, a page drawn to PNG,
idempotence, and no partial file after a failure."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from centralita.core.models import Chat, Message, User
from centralita.core.runtime import Runtime
from centralita.lifecycle import transcript as transcripts
from centralita.lifecycle.transcript import write_transcript

from .conftest import HOSTILE, ClosedChat, pdf_text

NOW = datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)


def made(rt: Runtime, chat: ClosedChat) -> tuple[Path, str]:
    relative = write_transcript(rt, chat.chat_id, NOW)
    assert relative == f"transcripts/2026/11/chat-{chat.chat_id}.pdf"
    path = rt.settings.storage_dir / relative
    return path, pdf_text(path)


def test_the_pdf_states_the_facts_in_the_campaigns_time_zone(
    rt: Runtime, closed_chat: ClosedChat
) -> None:
    _, text = made(rt, closed_chat)

    assert f"Chat #{closed_chat.chat_id}" in text
    assert "Transcripción del chat" in text
    assert "Cartera castigada" in text
    assert "CC 1012345678" in text and "Juana Pérez Ñúñez" in text
    assert "whatsapp:+573001112233" in text
    # Opened 13:05 UTC and closed 04:30:15 UTC the next day: both on the 21st in Bogotá.
    assert "America/Bogota, UTC-05:00" in text
    assert "Apertura 21/11/2026 08:05:00" in text
    assert "Cierre 21/11/2026 23:30:15" in text
    assert "Motivo del cierre Acuerdo de pago registrado" in text
    assert "Cerrado por supervisor: Sara (sara@x.co)" in text
    assert "Ana (ana@x.co)" in text and "Beto (beto@x.co)" in text
    assert re.search(r"Página 1 de \d", text)


def test_the_conversation_has_authors_times_statuses_and_media(
    rt: Runtime, closed_chat: ClosedChat
) -> None:
    _, text = made(rt, closed_chat)

    assert "Conversación (9 mensajes)" in text
    assert "08:05:00 · Cliente · recibido Hola, quiero pagar" in text
    assert "08:05:00 · Bot · leído Bienvenida al canal de pagos" in text
    assert "Adjunto: image/jpeg — https://api.twilio.com/x/Media/ME1" in text
    # Messages carry no author id: the assignment log says who held the chat when.
    assert "08:10:00 · Agente: Ana (ana@x.co) · entregado Hola Juana, soy Ana" in text
    assert "08:11:00 · Agente: Ana (ana@x.co) · fallido · error 63016" in text
    assert "08:36:00 · Agente: Beto (beto@x.co) · leído Buenas tardes, soy Beto" in text
    assert "Sistema · pendiente de envío Gracias por escribirnos" in text
    # 04:30 UTC on the 22nd is still the 21st in Bogotá: one day heading, local times.
    assert "23:30:00 · Sistema" in text
    assert "22/11/2026" not in text.split("Conversación", 1)[1].replace("Generado el 22/11", "")
    # A long message is wrapped, never cut: every word of it is there.
    assert text.count("muy largo") == 300


def test_a_reply_that_names_its_writer_is_credited_to_them(
    rt: Runtime, closed_chat: ClosedChat
) -> None:
    # Replies written from the inbox or the API carry their writer, whatever the log says.
    with rt.sessions.begin() as session:
        beto = session.scalars(select(User).where(User.email == "beto@x.co")).one()
        reply = session.scalars(
            select(Message).where(Message.text == "Le envío el enlace de pago")
        ).one()
        reply.user_id = beto.id
    _, text = made(rt, closed_chat)
    assert "08:11:00 · Agente: Beto (beto@x.co) · fallido · error 63016" in text
    assert "08:10:00 · Agente: Ana (ana@x.co) · entregado Hola Juana, soy Ana" in text


def test_the_assignment_history_is_listed(rt: Runtime, closed_chat: ClosedChat) -> None:
    _, text = made(rt, closed_chat)

    history = text[text.index("Historial de asignaciones") : text.index("Conversación")]
    assert "21/11/2026 08:09:00 Asignación Ana (ana@x.co) Enrutador automático" in history
    assert "21/11/2026 08:35:00 Reasignación Beto (beto@x.co) Sara (sara@x.co)" in history
    assert "turno de tarde" in history


def test_customer_html_is_text_and_fetches_nothing(rt: Runtime, closed_chat: ClosedChat) -> None:
    path, text = made(rt, closed_chat)

    assert HOSTILE in text
    reader = PdfReader(path)
    # An <img> that had been parsed as HTML would be an image XObject on the page.
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        xobjects = resources.get("/XObject") or {}
        assert not list(xobjects), "the customer's <img> became an image"


def test_a_page_renders_as_a_non_blank_a4_image(rt: Runtime, closed_chat: ClosedChat) -> None:
    path, _ = made(rt, closed_chat)

    document = pdfium.PdfDocument(path)
    assert len(document) >= 2  # the 300-word message pushes the conversation to a 2nd page
    width, height = document[0].get_size()  # points
    assert (round(width), round(height)) == (595, 842)  # A4: 210 x 297 mm
    image = document[0].render(scale=1).to_pil().convert("L")
    assert abs(image.height / image.width - 297 / 210) < 0.01
    histogram = image.histogram()
    dark = sum(histogram[:128])  # text pixels
    assert 0.005 < dark / (image.width * image.height) < 0.5
    document.close()


def test_english_labels_on_request(rt: Runtime, closed_chat: ClosedChat) -> None:
    relative = write_transcript(rt, closed_chat.chat_id, NOW, language="en")
    assert relative is not None
    text = pdf_text(rt.settings.storage_dir / relative)
    assert "Chat transcript" in text and "Close reason Acuerdo de pago registrado" in text
    assert "Closed by supervisor: Sara (sara@x.co)" in text
    assert re.search(r"Page 1 of \d", text)
    assert "delivered" in text and "failed · error 63016" in text


def test_made_once_then_nothing_to_do(rt: Runtime, closed_chat: ClosedChat) -> None:
    path, _ = made(rt, closed_chat)
    with rt.sessions() as session:
        chat = session.get(Chat, closed_chat.chat_id)
        assert chat is not None
        assert chat.transcript_path == f"transcripts/2026/11/chat-{closed_chat.chat_id}.pdf"
        assert chat.transcript_due_at is None and chat.transcript_error is None
    stamp = path.stat().st_mtime_ns

    assert write_transcript(rt, closed_chat.chat_id, NOW) is None
    assert path.stat().st_mtime_ns == stamp

    path.unlink()  # lost from storage: the next run makes it again
    assert write_transcript(rt, closed_chat.chat_id, NOW) is not None
    assert path.is_file()


def test_nothing_for_an_open_or_unknown_chat(rt: Runtime, closed_chat: ClosedChat) -> None:
    assert write_transcript(rt, closed_chat.open_chat_id, NOW) is None
    assert write_transcript(rt, 987654, NOW) is None
    assert not (rt.settings.storage_dir / "transcripts").exists()


def test_a_failed_render_leaves_no_file_and_raises(
    rt: Runtime, closed_chat: ClosedChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("pango exploded")

    monkeypatch.setattr(transcripts, "render_transcript_pdf", broken)
    with pytest.raises(RuntimeError, match="pango exploded"):
        write_transcript(rt, closed_chat.chat_id, NOW)
    storage = rt.settings.storage_dir
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))
    with rt.sessions() as session:
        chat = session.get(Chat, closed_chat.chat_id)
        assert chat is not None and chat.transcript_path is None
        assert chat.transcript_due_at is not None  # still due: the caller retries


def test_a_failed_write_leaves_neither_part_nor_temporary_file(
    rt: Runtime, closed_chat: ClosedChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transcripts.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_transcript(rt, closed_chat.chat_id, NOW)
    folder = rt.settings.storage_dir / "transcripts" / "2026" / "11"
    assert list(folder.iterdir()) == []
    with rt.sessions() as session:
        chat = session.get(Chat, closed_chat.chat_id)
        assert chat is not None and chat.transcript_path is None


def test_a_failed_write_keeps_the_previous_file_whole(
    rt: Runtime, closed_chat: ClosedChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = made(rt, closed_chat)
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(transcripts.os, "fsync", disk_full)
    with pytest.raises(OSError):
        transcripts.write_atomically(path, b"%PDF-partial")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]
