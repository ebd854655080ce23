"""PDF transcripts in a warm worker: a 200-message chat rendered again and again.

What runs: `render_transcript_pdf` (HTML from the template, layout and PDF by WeasyPrint) on
made-up data shaped like a long real chat: 200 messages from the customer, the bot, two
agents and the system, of mixed lengths (some several paragraphs), every delivery status,
a few attachments and a handful of assignments. No database and no file: the job around it
adds one short read and one atomic write. After a warm-up, the renders are timed one by one;
the target (issue 5) is checked against the median. Memory: the process's resident set size
is read at the start of the timed renders, after 100 and after 500 (target: stable).

    python -m benchmarks.pdf [--renders 500] [--messages 200]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

from centralita.core.models import AssignmentKind, Author, Direction, MessageStatus
from centralita.lifecycle.transcript_data import (
    MediaNote,
    TranscriptAssignment,
    TranscriptData,
    TranscriptMessage,
)
from centralita.lifecycle.transcript_render import render_transcript_pdf

TARGET_P50_MS = 400.0
# Stable: after the first 100 renders (caches full), the next 400 add less than this.
TARGET_GROWTH_MB = 10.0
OPENED = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
AGENTS = ("Ana Gómez (ana@example.co)", "Beto Ruiz (beto@example.co)")
MENU = (
    "¡Hola! Soy el asistente virtual de Cartera Castigada. Elija una opción:\n"
    "1. Consultar mi saldo\n2. Hacer un acuerdo de pago\n3. Ya pagué\n"
    "4. Hablar con un asesor\nEscriba el número de la opción."
)
BALANCE = (
    "Juana, su saldo pendiente es de $1.250.000 con fecha de corte del 30/11/2026.\n"
    "Puede pagar en línea en https://pagos.example.co/c/1012345678 o en cualquier "
    "corresponsal bancario con la referencia 88120045."
)
TERMS = (
    "Le cuento las opciones: puede pagar el total con un descuento del 20 % hasta el 30 de "
    "noviembre, o hacer un acuerdo en dos o tres cuotas mensuales sin intereses. Si elige las "
    "cuotas, la primera debe pagarse dentro de los próximos cinco días hábiles y las demás el "
    "mismo día de los meses siguientes. Cualquier pago queda reflejado en 24 horas."
)
COMPLAINT = (
    "Buenas tardes. Yo ya había hablado con ustedes el mes pasado y me dijeron que el saldo "
    "era otro, no entiendo por qué ahora me aparece más.\n\nAdemás me llamaron tres veces el "
    "sábado a las siete de la mañana, y eso no me parece. Quiero pagar, pero necesito que me "
    "expliquen bien el valor y que me envíen el estado de cuenta por escrito.\n\nQuedo atenta."
)
# One scripted exchange of a collections chat (bot menu, identification, hand-off, an agent
# negotiating), repeated to the wanted length: lengths from one character to a few
# paragraphs, about 90 characters on average, as in real chats.
SCRIPT: tuple[tuple[Author, str], ...] = (
    (Author.CUSTOMER, "Hola"),
    (Author.BOT, MENU),
    (Author.CUSTOMER, "1"),
    (Author.BOT, "Por favor escriba su número de documento, sin puntos ni espacios."),
    (Author.CUSTOMER, "1012345678"),
    (Author.BOT, BALANCE),
    (Author.CUSTOMER, "Quiero hablar con un asesor por favor"),
    (Author.BOT, "Le comunico con un asesor. Tiempo estimado de espera: 3 minutos."),
    (Author.AGENT, "Buenos días Juana, le saluda su asesora. ¿En qué le puedo ayudar?"),
    (Author.CUSTOMER, COMPLAINT),
    (Author.AGENT, TERMS),
    (Author.CUSTOMER, "¿Y si pago la primera cuota el viernes?"),
    (
        Author.AGENT,
        "Sí, claro. Le dejo registrado el acuerdo: primera cuota de $416.667 el "
        "viernes 27/11/2026 y las otras dos el 27 de diciembre y el 27 de enero.",
    ),
    (Author.CUSTOMER, "Listo, de acuerdo"),
    (Author.AGENT, "Le envío el estado de cuenta y el acuerdo en PDF."),
    (Author.CUSTOMER, "Ya pagué, le envío el comprobante"),
    (Author.AGENT, "Recibido, gracias. Lo validamos en 24 horas."),
    (Author.CUSTOMER, "Muchas gracias, muy amable 🙏"),
    (Author.AGENT, "Con gusto. ¿Hay algo más en lo que le pueda ayudar hoy?"),
    (Author.CUSTOMER, "No, eso es todo"),
)
STATUSES = (
    MessageStatus.READ,
    MessageStatus.DELIVERED,
    MessageStatus.SENT,
    MessageStatus.FAILED,
    MessageStatus.READ,
)


def sample(messages: int) -> TranscriptData:
    rows = []
    for i in range(messages):
        author, text = SCRIPT[i % len(SCRIPT)]
        if i == messages - 1:
            author, text = Author.SYSTEM, "Gracias por comunicarse con nosotros."
        status = (
            STATUSES[i % len(STATUSES)] if author != Author.CUSTOMER else MessageStatus.RECEIVED
        )
        media: tuple[MediaNote, ...] = ()
        if text.startswith(("Le envío", "Ya pagué")):
            kind = "application/pdf" if author == Author.AGENT else "image/jpeg"
            media = (MediaNote(kind, f"https://api.twilio.com/Media/ME{i:030d}"),)
        rows.append(
            TranscriptMessage(
                at=OPENED + timedelta(minutes=7 * i),
                author=author,
                direction=Direction.IN if author == Author.CUSTOMER else Direction.OUT,
                text=text,
                status=status,
                error_code="63016" if status == MessageStatus.FAILED else None,
                agent=AGENTS[i // 100] if author == Author.AGENT else None,
                media=media,
            )
        )
    return TranscriptData(
        chat_id=123456,
        timezone="America/Bogota",
        opened_at=OPENED,
        closed_at=rows[-1].at,
        contact_address="whatsapp:+573001234567",
        contact_name="Juana",
        campaign_name="Cartera castigada",
        campaign_slug="castigada",
        customer_document="1012345678",
        customer_document_type="CC",
        customer_name="Juana Pérez",
        agents=AGENTS,
        close_reason="Acuerdo de pago registrado",
        closed_by="agent",
        closed_by_user=AGENTS[1],
        messages=tuple(rows),
        assignments=(
            TranscriptAssignment(OPENED, AssignmentKind.ASSIGN, AGENTS[0], None, "least load"),
            TranscriptAssignment(
                OPENED + timedelta(hours=11),
                AssignmentKind.REASSIGN,
                AGENTS[1],
                "Sara (sara@example.co)",
                "turno de tarde",
            ),
        ),
    )


def rss_mb() -> float:
    """The resident set size now (not the peak): what 'stable over time' is about."""
    with open("/proc/self/statm") as statm:  # noqa: PTH123  (Linux only, like the workers)
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=500)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)

    data = sample(args.messages)
    generated = OPENED + timedelta(days=1)
    for _ in range(args.warmup):
        pdf = render_transcript_pdf(data, generated_at=generated)
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's way, as in a long-running worker
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    chars = statistics.mean(len(m.text) for m in data.messages)
    print(
        f"pdf transcript: {args.messages} messages ({chars:.0f} characters on average), "
        f"{pages} A4 pages, {len(pdf):,} bytes; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    memory = {0: rss_mb()}
    timings: list[float] = []
    cpu: list[float] = []
    for n in range(1, args.renders + 1):
        started, started_cpu = time.perf_counter(), time.process_time()
        render_transcript_pdf(data, generated_at=generated)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if n in (100, args.renders):
            memory[n] = rss_mb()
        if n % 50 == 0:
            print(f"  {n} renders, median so far {statistics.median(timings):.0f} ms", flush=True)

    p50 = statistics.median(timings)
    p90 = statistics.quantiles(timings, n=10)[-1]
    growth = memory[args.renders] - memory.get(100, memory[0])
    print(f"renders: {len(timings)}")
    print(
        f"p50 {p50:.0f} ms, p90 {p90:.0f} ms, min {min(timings):.0f} ms, max {max(timings):.0f} ms"
    )
    # CPU time is what a busy neighbour disturbs least: compare it between runs on a shared box.
    print(f"CPU time per render: p50 {statistics.median(cpu):.0f} ms, min {min(cpu):.0f} ms")
    print(
        "RSS: "
        + ", ".join(
            f"{'start' if n == 0 else f'after {n}'} {mb:.1f} MB" for n, mb in memory.items()
        )
    )
    speed_ok = p50 <= TARGET_P50_MS
    memory_ok = growth < TARGET_GROWTH_MB
    print(f"p50 target ≤ {TARGET_P50_MS:.0f} ms: {'met' if speed_ok else 'NOT met'}")
    print(
        f"memory target (< {TARGET_GROWTH_MB:.0f} MB growth after the first 100): "
        f"{growth:+.1f} MB, {'met' if memory_ok else 'NOT met'}"
    )
    return 0 if speed_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
