"""The customer simulator: a phone-like page that writes to our numbers as a customer would.

Demo and development only. The blueprint is registered only when the app runs in demo mode
(`centralita demo`) or with `SIMULATOR_ENABLED` in its config, and answers 404 otherwise as a
second guard: it signs webhooks with our own Twilio auth token, so in production it would
let anyone forge customers' messages. It needs no sign-in (the person playing the customer is
not a user), but every post carries the page's CSRF token like any other form.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from centralita.core.db import READ_ONLY
from centralita.web.i18n import _, add_translations
from centralita.web.services import services
from centralita.web.simulator import phone

bp = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    static_folder="static",
    static_url_path="/static",
)

CONFIG_KEY = "SIMULATOR_ENABLED"
DEFAULT_PHONE = "+573001234567"


def enabled(app: Flask) -> bool:
    return bool(services(app).settings.demo or app.config.get(CONFIG_KEY))


def install(app: Flask) -> None:
    """Register the simulator on `app` when it may run there."""
    if enabled(app):
        app.register_blueprint(bp)


@bp.before_request
def _only_in_demo() -> None:
    if not enabled(current_app):
        abort(404)


def _choice() -> tuple[str, str, str]:
    """The phone, our number and the profile name the page is showing (query or form)."""
    values = request.values
    return (
        values.get("phone", DEFAULT_PHONE).strip() or DEFAULT_PHONE,
        values.get("number", "").strip(),
        values.get("profile_name", "").strip(),
    )


@bp.get("/")
def index() -> str:
    phone_text, number, profile_name = _choice()
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        numbers = [n.address for n in phone.our_numbers(session)]
        if not number and numbers:
            number = numbers[0]
        samples = [
            {
                "name": c.name,
                "phone": c.phone,
                "document": c.document,
                "campaign": c.campaign.name,
                "number": serving,
            }
            for c, serving in phone.sample_customers(session)
        ]
        error: str | None = None
        shown: dict[str, Any] = {"chat": None, "messages": []}
        if number:
            try:
                address = phone.customer_address(phone_text, phone.check_number(number))
                shown = phone.conversation(session, address, number)
            except phone.SimulatorError as exc:
                error = _describe(exc)
    return render_template(
        "simulator/phone.html",
        phone=phone_text,
        number=number,
        numbers=numbers,
        profile_name=profile_name,
        samples=samples,
        conversation=shown,
        labels=_labels(),
        error=error or request.args.get("error"),
    )


@bp.get("/messages")
def messages() -> Any:
    """The conversation as JSON, for the page to refresh itself."""
    phone_text, number, _profile = _choice()
    try:
        address = phone.customer_address(phone_text, phone.check_number(number))
    except phone.SimulatorError as exc:
        return _error(exc)
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        return jsonify(phone.conversation(session, address, number))


@bp.post("/messages")
def send() -> Any:
    """Write `body` as the customer; JSON for the page's script, a redirect for a plain form."""
    phone_text, number, profile_name = _choice()
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        number = phone.check_number(number)
        address = phone.customer_address(phone_text, number)
        delivery = phone.send_as_customer(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            from_=address,
            to=number,
            body=request.form.get("body", ""),
            profile_name=profile_name,
        )
    except phone.SimulatorError as exc:
        if wants_json:
            return _error(exc)
        return _back(phone_text, number, profile_name, error=_describe(exc))
    if not delivery.ok:
        message = _(
            "El webhook respondió %(status)s: %(body)s",
            status=delivery.status,
            body=delivery.body.strip()[:200],
        )
        if wants_json:
            return jsonify({"error": {"code": "webhook", "message": message}}), 502
        return _back(phone_text, number, profile_name, error=message)
    if wants_json:
        with services().sessions() as session:
            return jsonify(phone.conversation(session, address, number))
    return _back(phone_text, number, profile_name)


def _back(phone_text: str, number: str, profile_name: str, error: str | None = None) -> Response:
    args: dict[str, Any] = {"phone": phone_text, "number": number, "profile_name": profile_name}
    if error:
        args["error"] = error
    return redirect(url_for("simulator.index", **args) + "#compose")


# What the page calls chat statuses, message authors and delivery statuses (Spanish; the
# page shows them translated).
LABELS = {
    "bot": "Bot",
    "waiting_queue": "En cola, esperando asesor",
    "assigned": "Con asesor",
    "closed": "Cerrado",
    "customer": "Tú",
    "agent": "Asesor",
    "system": "Sistema",
    "pending": "pendiente",
    "accepted": "aceptado",
    "queued": "en cola",
    "sending": "enviando",
    "sent": "enviado",
    "delivered": "entregado",
    "read": "leído",
    "undelivered": "no entregado",
    "failed": "falló",
    "canceled": "cancelado",
    "received": "recibido",
    "empty": "Todavía no hay mensajes. Escribe «Hola».",
}


def _labels() -> dict[str, str]:
    return {code: _(text) for code, text in LABELS.items()}


_FIELD_LABELS = {"phone": "Teléfono", "number": "Número", "body": "Mensaje"}


def _describe(exc: phone.SimulatorError) -> str:
    return f"{_(_FIELD_LABELS.get(exc.field, exc.field))}: {_(exc.text, **exc.values)}"


def _error(exc: phone.SimulatorError) -> tuple[Response, int]:
    body = {"error": {"code": "invalid", "field": exc.field, "message": _describe(exc)}}
    return jsonify(body), 422


add_translations(
    {
        # simulator/phone.html
        "Simulador de cliente": "Customer simulator",
        "Escribe como si fueras un cliente en WhatsApp. Cada mensaje llega al webhook de "
        "Twilio de esta aplicación, firmado como lo firmaría Twilio; aquí ves lo que responden "
        "el bot y los asesores.": (
            "Write as if you were a customer on WhatsApp. Each message reaches this app's "
            "Twilio webhook, signed as Twilio would sign it; here you see what the bot and the "
            "agents answer."
        ),
        "Teléfono del cliente": "Customer's phone",
        "Escribir al número": "Write to number",
        "No hay números registrados: agrega uno con «centralita numbers add» o escribe uno "
        "(usa DEFAULT_FLOW).": (
            "No numbers yet: add one with «centralita numbers add» or type one (uses DEFAULT_FLOW)."
        ),
        "Nombre de perfil (WhatsApp)": "Profile name (WhatsApp)",
        "Abrir conversación": "Open conversation",
        "Clientes de ejemplo": "Sample customers",
        "Escribe su documento cuando el bot lo pida.": "Type their ID when the bot asks for it.",
        "Nombre": "Name",
        "Documento": "ID document",
        "Campaña": "Campaign",
        "Acción": "Action",
        "Usar su teléfono": "Use their phone",
        "Sin número": "No number",
        "Chat %(id)s": "Chat %(id)s",
        "Conversación": "Conversation",
        "Escribe un mensaje (Enter envía)": "Write a message (Enter sends)",
        "Enviar": "Send",
        # labels
        "Bot": "Bot",
        "En cola, esperando asesor": "Queued, waiting for an agent",
        "Con asesor": "With an agent",
        "Cerrado": "Closed",
        "Tú": "You",
        "Asesor": "Agent",
        "Sistema": "System",
        "pendiente": "pending",
        "aceptado": "accepted",
        "en cola": "queued",
        "enviando": "sending",
        "enviado": "sent",
        "entregado": "delivered",
        "leído": "read",
        "no entregado": "undelivered",
        "falló": "failed",
        "cancelado": "canceled",
        "recibido": "received",
        "Todavía no hay mensajes. Escribe «Hola».": "No messages yet. Write «Hola».",
        "Teléfono": "Phone",
        "Número": "Number",
        "Mensaje": "Message",
        "El webhook respondió %(status)s: %(body)s": "The webhook answered %(status)s: %(body)s",
        "«%(phone)s» no es un número de teléfono (por ejemplo +573001234567 o 300 123 4567)": (
            "«%(phone)s» is not a phone number (e.g. +573001234567 or 300 123 4567)"
        ),
        "«%(number)s» no es una dirección de número (por ejemplo whatsapp:+576015550100)": (
            "«%(number)s» is not a number address (e.g. whatsapp:+576015550100)"
        ),
        "escribe un mensaje primero": "write a message first",
        "un mensaje tiene como máximo %(max)s caracteres": (
            "a message has at most %(max)s characters"
        ),
    }
)
