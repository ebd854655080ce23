"""Opt-out and opt-in keywords (Twilio's list, plus Spanish), and the opt-out records."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centralita.bot.text import fold
from centralita.core.models import OptOut

# Twilio's default opt-out keywords, plus what Spanish-speaking customers write.
STOP_WORDS = {
    "stop": "en",
    "stopall": "en",
    "unsubscribe": "en",
    "cancel": "en",
    "end": "en",
    "quit": "en",
    "revoke": "en",
    "optout": "en",
    "baja": "es",
    "cancelar": "es",
    "detener": "es",
}
# Opt back in. Only acted on for a contact who opted out: otherwise "si" is an answer.
START_WORDS = {"start": "en", "unstop": "en", "yes": "en", "alta": "es", "si": "es"}

CONFIRM_STOP = {
    "es": "Listo, no te enviaremos más mensajes desde este número. Si cambias de opinión, "
    "escribe ALTA.",
    "en": "Done: you won't get more messages from this number. If you change your mind, "
    "reply START.",
}
CONFIRM_START = {
    "es": "¡Bienvenido de nuevo! Volverás a recibir nuestros mensajes. Escribe BAJA para "
    "dejar de recibirlos.",
    "en": "Welcome back! You'll receive our messages again. Reply STOP to opt out.",
}


def keyword(body: str) -> tuple[str, str] | None:
    """("stop"|"start", language) when the whole message is a keyword, else None."""
    word = fold(body).replace(" ", "")
    if word in STOP_WORDS:
        return "stop", STOP_WORDS[word]
    if word in START_WORDS:
        return "start", START_WORDS[word]
    return None


def is_opted_out(session: Session, contact_id: int, number: str) -> bool:
    found = session.scalar(
        select(OptOut.id).where(OptOut.contact_id == contact_id, OptOut.number == number)
    )
    return found is not None


def opt_out(session: Session, contact_id: int, number: str, source: str) -> bool:
    """Record the opt-out; False if there already was one."""
    if is_opted_out(session, contact_id, number):
        return False
    try:
        with session.begin_nested():
            session.add(OptOut(contact_id=contact_id, number=number, source=source))
    except IntegrityError:  # a concurrent STOP (or 21610) recorded it first
        return False
    return True


def opt_in(session: Session, contact_id: int, number: str) -> bool:
    result = session.execute(
        delete(OptOut).where(OptOut.contact_id == contact_id, OptOut.number == number)
    )
    return bool(getattr(result, "rowcount", 0))
