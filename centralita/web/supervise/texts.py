"""How the supervisor pages word things: labels for statuses, rows for the tables, routing's
refusals in the page's language, and the English of every Spanish text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from centralita.core.models import Alert, Assignment, Campaign, Chat
from centralita.routing.errors import (
    AgentNotEligible,
    InvalidRequest,
    ManualAssignmentDisabled,
    RoutingError,
    WrongChatStatus,
)
from centralita.routing.policies import Candidate
from centralita.web.i18n import _, add_translations

__all__ = ["_"]

CHAT_STATUS = {
    "bot": "Con el bot",
    "waiting_queue": "En cola",
    "assigned": "Asignado",
    "closed": "Cerrado",
}
PRESENCE = {
    "online": "Disponible",
    "away": "Ausente",
    "offline": "Desconectado",
    "stale": "Sin señal",
    "full": "Sin cupo",
    # In the assignment log: eligible, but held by a concurrent decision as this one was made.
    "busy": "Ocupado en otra asignación",
}
ASSIGNMENT_KIND = {
    "assign": "Asignación automática",
    "reassign": "Reasignación",
    "manual": "Asignación manual",
    "unassign": "Devuelto a la cola",
}
AUTHOR = {"customer": "Cliente", "bot": "Bot", "agent": "Asesor", "system": "Sistema"}
ALERT_KIND = {
    "unanswered": "Sin respuesta",
    "delivery_failed": "Entrega fallida",
    "sender_risk": "Riesgo del número",
}


def chat_status(status: str) -> str:
    return _(CHAT_STATUS.get(str(status), str(status)))


def author(value: str) -> str:
    return _(AUTHOR.get(str(value), str(value)))


def presence(value: str) -> str:
    return _(PRESENCE.get(value, value))


def duration(span: timedelta) -> str:
    """`2 h 05 min`, `7 min`, `< 1 min`: short enough for a table cell."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return _("< 1 min")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def queued_chat(chat: Chat, campaigns: Mapping[int, Campaign], now: datetime) -> dict[str, Any]:
    campaign = campaigns.get(chat.campaign_id) if chat.campaign_id is not None else None
    since = chat.queued_at or chat.opened_at
    return {
        "id": chat.id,
        "contact": chat.contact.profile_name or chat.contact.phone,
        "phone": chat.contact.phone,
        "campaign": campaign.name if campaign is not None else _("Sin campaña"),
        "manual": campaign is None or campaign.manual_assignment,
        "priority": chat.priority,
        "waiting": duration(now - since),
        "since": since,
        "tags": ", ".join(chat.tags or ()),
    }


def alert_row(
    alert: Alert,
    chat: Chat | None,
    campaigns: Mapping[int, Campaign],
    agent_names: Mapping[int, str],
) -> dict[str, Any]:
    campaign = campaigns.get(alert.campaign_id) if alert.campaign_id is not None else None
    return {
        "id": alert.id,
        "kind": _(ALERT_KIND.get(alert.kind, alert.kind)),
        "chat_id": alert.chat_id,
        "campaign": campaign.name if campaign is not None else "—",
        "agent": agent_names.get(alert.user_id, "—") if alert.user_id else "—",
        "number": alert.number or "",
        "created_at": alert.created_at,
        "chat_status": chat_status(chat.status) if chat is not None else "",
    }


def log_row(row: Assignment) -> dict[str, Any]:
    return {
        "at": row.created_at,
        "kind": _(ASSIGNMENT_KIND.get(str(row.kind), str(row.kind))),
        "agent": row.agent.name if row.agent is not None else "—",
        "agent_email": row.agent.email if row.agent is not None else "",
        "by": row.by_user.name if row.by_user is not None else _("Sistema"),
        "policy": row.policy or "",
        "reason": row.reason,
        "candidates": [
            {
                "agent": c.get("agent") or c.get("email") or "",
                "open": c.get("open"),
                "capacity": c.get("capacity"),
                "why_not": presence(str(c["why_not"])) if c.get("why_not") else _("elegible"),
            }
            for c in row.candidates or ()
        ],
    }


def eligible_row(found: Candidate) -> dict[str, Any]:
    return {"email": found.email, "open": found.open, "capacity": found.capacity}


def routing_error(exc: RoutingError) -> str:
    """Routing's refusal, for people: what to do, then its own words for the details."""
    if isinstance(exc, ManualAssignmentDisabled):
        return _(
            "La campaña de este chat no permite asignar a mano: el enrutador lo asignará "
            "(un administrador puede activar la asignación manual)."
        )
    if isinstance(exc, AgentNotEligible):
        return _("Ese asesor no puede recibir el chat ahora (%(detail)s).", detail=str(exc))
    if isinstance(exc, WrongChatStatus):
        return _("El chat cambió de estado mientras tanto (%(detail)s).", detail=str(exc))
    if isinstance(exc, InvalidRequest):
        return _("No se pudo: %(detail)s.", detail=str(exc))
    return str(exc)


add_translations(
    {
        "Con el bot": "With the bot",
        "Bot": "Bot",
        "En cola": "Queued",
        "Asignado": "Assigned",
        "Cerrado": "Closed",
        "Disponible": "Online",
        "Ausente": "Away",
        "Desconectado": "Offline",
        "Sin señal": "No heartbeat",
        "Sin cupo": "At capacity",
        "Ocupado en otra asignación": "Busy in another assignment",
        "Asignación automática": "Automatic assignment",
        "Reasignación": "Reassignment",
        "Asignación manual": "Manual assignment",
        "Devuelto a la cola": "Back to the queue",
        "Sin respuesta": "Unanswered",
        "Entrega fallida": "Delivery failed",
        "Riesgo del número": "Number at risk",
        "< 1 min": "< 1 min",
        "Sin campaña": "No campaign",
        "Sistema": "System",
        "elegible": "eligible",
        "La campaña de este chat no permite asignar a mano: el enrutador lo asignará "
        "(un administrador puede activar la asignación manual).": (
            "This chat's campaign does not allow manual assignment: the router will assign it "
            "(an admin can turn manual assignment on)."
        ),
        "Ese asesor no puede recibir el chat ahora (%(detail)s).": (
            "That agent cannot take the chat now (%(detail)s)."
        ),
        "El chat cambió de estado mientras tanto (%(detail)s).": (
            "The chat changed meanwhile (%(detail)s)."
        ),
        "No se pudo: %(detail)s.": "Could not do it: %(detail)s.",
        # supervise/*.html
        "Alertas": "Alerts",
        "Alertas abiertas": "Open alerts",
        "Asesor": "Agent",
        "Asesor (solo los que pueden recibirlo ahora)": "Agent (only those who can take it now)",
        "Asesores": "Agents",
        "Asignar": "Assign",
        "Asignar a mano": "Assign by hand",
        "Campaña": "Campaign",
        "Campañas": "Campaigns",
        "Campañas: %(names)s": "Campaigns: %(names)s",
        "Candidatos": "Candidates",
        "Carga": "Load",
        "Chat": "Chat",
        "Chat %(id)s": "Chat %(id)s",
        "Chats abiertos de %(name)s": "Open chats of %(name)s",
        "Cliente": "Customer",
        "Cola": "Queue",
        "Cola de espera": "Waiting queue",
        "Conectado hoy": "Connected today",
        "Cuándo": "When",
        "Desde": "Since",
        "Documento": "ID document",
        "Elige un asesor": "Choose an agent",
        "Esta campaña no permite asignar chats a mano: el enrutador lo asignará cuando haya "
        "un asesor disponible.": (
            "This campaign does not allow assigning chats by hand: the router will assign it "
            "when an agent is available."
        ),
        "Estado": "Status",
        "Este chat no ha sido asignado todavía.": "This chat has not been assigned yet.",
        "Etiquetas": "Tags",
        "Esperando": "Waiting",
        "Historial de asignaciones": "Assignment log",
        "Motivo": "Reason",
        "Ningún asesor de la campaña puede recibirlo ahora (todos desconectados, ausentes o "
        "sin cupo).": (
            "No agent of the campaign can take it now (all offline, away or at capacity)."
        ),
        "No hay alertas abiertas.": "No open alerts.",
        "No hay asesores en tus campañas.": "No agents in your campaigns.",
        "No hay chats esperando asesor.": "No chats waiting for an agent.",
        "Número": "Number",
        "Por": "By",
        "Prioridad": "Priority",
        "Qué": "What",
        "Reasignar": "Reassign",
        "Secciones": "Sections",
        "Sin mensajes.": "No messages.",
        "Supervisión": "Supervision",
        "Tipo": "Kind",
        "asignable a mano": "can be assigned by hand",
        "obligatorio": "required",
        "Últimos mensajes": "Latest messages",
        "Ver la conversación completa y la ficha del cliente": (
            "See the whole conversation and the customer's card"
        ),
        "Chats": "Chats",
        "Abrir el chat número": "Open chat number",
        "Abrir": "Open",
        # views
        "Escribe el número del chat, por ejemplo 42.": "Type the chat's number, e.g. 42.",
        "Elige un asesor.": "Choose an agent.",
        "Escribe el motivo de la reasignación.": "Write the reason for the reassignment.",
        "El motivo es demasiado largo (máximo %(max)s caracteres).": (
            "The reason is too long (at most %(max)s characters)."
        ),
        "Chat %(id)s asignado a %(agent)s.": "Chat %(id)s assigned to %(agent)s.",
        "Chat %(id)s reasignado a %(agent)s.": "Chat %(id)s reassigned to %(agent)s.",
    }
)
