"""The inbox's English texts (centralita/web/i18n.py: Spanish is the source)."""

from centralita.web.i18n import add_translations

add_translations(
    {
        "Mis chats": "My chats",
        "No tienes chats abiertos. Los nuevos aparecerán aquí.": (
            "You have no open chats. New ones will appear here."
        ),
        "sin leer": "unread",
        "alertas": "alerts",
        "Elige un chat de la lista.": "Choose a chat from the list.",
        "Conversación": "Conversation",
        "Cliente": "Customer",
        "Bot": "Bot",
        "Agente": "Agent",
        "Sistema": "System",
        "Escribe tu respuesta": "Write your reply",
        "Enter envía; Mayús+Enter, nueva línea.": "Enter sends; Shift+Enter, new line.",
        "Enviar": "Send",
        "Cerrar chat": "Close chat",
        "¿Cerrar este chat?": "Close this chat?",
        "El cliente recibirá el mensaje de cierre de la campaña.": (
            "The customer will receive the campaign's closing message."
        ),
        "Motivo del cierre": "Reason for closing",
        "Cerrar definitivamente": "Close for good",
        "Cancelar": "Cancel",
        "Chat cerrado.": "Chat closed.",
        "Este chat ya está cerrado.": "This chat is already closed.",
        "Este chat ya no está asignado a ti.": "This chat is no longer assigned to you.",
        "Escribe un mensaje antes de enviar.": "Write a message before sending.",
        "El mensaje es demasiado largo (máximo 4096 caracteres).": (
            "The message is too long (4096 characters at most)."
        ),
        "Indica el motivo del cierre (máximo 500 caracteres).": (
            "Give the reason for closing (500 characters at most)."
        ),
        "Datos del cliente": "Customer details",
        "Cliente sin identificar": "Unidentified customer",
        "Contacto": "Contact",
        "Campaña": "Campaign",
        "Estado": "Status",
        "pendiente": "pending",
        "enviado": "sent",
        "entregado": "delivered",
        "leído": "read",
        "falló": "failed",
        "no entregado": "undelivered",
        "recibido": "received",
        "en cola": "queued",
        "código": "code",
        "Solo lectura: este chat no está asignado a ti.": (
            "Read only: this chat is not assigned to you."
        ),
        "Chat %(id)s": "Chat %(id)s",
        "cerrado": "closed",
        "asignado": "assigned",
        "en espera": "waiting",
        "con el bot": "with the bot",
        "Conectando…": "Connecting…",
        "En vivo": "Live",
        "Sin conexión en vivo; reintentando…": "Live updates lost; retrying…",
        # sessions report
        "Desde": "From",
        "Hasta": "To",
        "Filtrar": "Filter",
        "Persona": "Person",
        "Inicio": "Start",
        "Fin": "End",
        "Motivo": "Reason",
        "Conectado": "Connected",
        "Chats atendidos": "Chats handled",
        "Mensajes enviados": "Messages sent",
        "abierta": "open",
        "salió": "signed out",
        "expiró": "expired",
        "No hay sesiones con estos filtros.": "No sessions match these filters.",
        "Horas en %(zone)s. También en JSON (UTC): GET /api/v1/sessions.": (
            "Times in %(zone)s. Also as JSON (UTC): GET /api/v1/sessions."
        ),
        "Cada inicio de sesión, con su tiempo conectado, chats atendidos y mensajes enviados.": (
            "Every sign-in, with its connected time, chats handled and messages sent."
        ),
    }
)
