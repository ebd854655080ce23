"""How the admin pages word things, and the English of every Spanish text they use."""

from __future__ import annotations

from centralita.web.i18n import _, add_translations

__all__ = ["CAMPAIGN_ERRORS", "LEVELS", "POLICY_NAMES", "ROLE_NAMES", "UPLOAD_STATES", "_"]

ROLE_NAMES = {"agent": "Agente", "supervisor": "Supervisor", "admin": "Administrador"}
POLICY_NAMES = {"least_load": "Menor carga (según peso)", "round_robin": "Por turnos"}
LEVELS = {"ok": "Bien", "watch": "En observación", "critical": "Crítico"}
UPLOAD_STATES = {
    "queued": "En espera",
    "running": "Importando",
    "done": "Terminado",
    "failed": "Falló",
}

# A campaign setting the domain refused (CampaignError.option) -> (form field, what to say).
CAMPAIGN_ERRORS = {
    "SLUG": (
        "slug",
        "El identificador usa minúsculas, dígitos, «-» y «_» (hasta 64), empieza y termina "
        "con letra o dígito, y no puede repetirse: por ejemplo cartera-castigada",
    ),
    "--name": ("name", "El nombre debe tener de 1 a 200 caracteres"),
    "--alert-after": ("alert_after", "Duración no válida: usa por ejemplo 30m, 2h o 1d"),
    "--close-after": ("close_after", "Duración no válida: usa por ejemplo 30m, 2h o 1d"),
    "--reassign-after": ("reassign_after", "Duración no válida: usa por ejemplo 30m, 2h o 1d"),
    "--closing-message": ("closing_message", "El mensaje de cierre está vacío"),
    "--closing-template": (
        "closing_template",
        "No es el SID de una plantilla de Twilio Content (HX y 32 dígitos hexadecimales)",
    ),
    "--timezone": (
        "timezone",
        "No es una zona horaria IANA: usa por ejemplo America/Bogota o America/Mexico_City",
    ),
    "--assignment-policy": ("assignment_policy", "Política de asignación desconocida"),
    "--max-assignments-per-minute": (
        "max_assignments_per_minute",
        "Las asignaciones por asesor por minuto van de 1 a 600",
    ),
}

add_translations(
    {
        "Agente": "Agent",
        "Bien": "OK",
        "En observación": "Watch",
        "Crítico": "Critical",
        "Menor carga (según peso)": "Least load (by weight)",
        "Por turnos": "Round robin",
        "En espera": "Queued",
        "Importando": "Importing",
        "Terminado": "Done",
        "Falló": "Failed",
        "Supervisor": "Supervisor",
        "Administrador": "Admin",
        CAMPAIGN_ERRORS["SLUG"][1]: (
            "The identifier uses lower-case letters, digits, «-» and «_» (up to 64), starts and "
            "ends with a letter or digit, and must be unique: e.g. cartera-castigada"
        ),
        "El nombre debe tener de 1 a 200 caracteres": "The name must have 1 to 200 characters",
        "Duración no válida: usa por ejemplo 30m, 2h o 1d": (
            "Not a duration: use e.g. 30m, 2h or 1d"
        ),
        "El mensaje de cierre está vacío": "The closing message is empty",
        CAMPAIGN_ERRORS["--closing-template"][1]: (
            "Not a Twilio Content template SID (HX and 32 hexadecimal digits)"
        ),
        CAMPAIGN_ERRORS["--timezone"][1]: (
            "Not an IANA time zone: use e.g. America/Bogota or America/Mexico_City"
        ),
        "Política de asignación desconocida": "Unknown assignment policy",
        "Las asignaciones por asesor por minuto van de 1 a 600": (
            "Assignments per agent per minute go from 1 to 600"
        ),
        # admin/*.html
        "%(n)s problemas": "%(n)s problems",
        "2 recibe el doble que 1.": "2 receives twice as many as 1.",
        "Activa": "Active",
        "Activa (puede entrar y recibir chats)": "Active (may sign in and receive chats)",
        "Actualizados": "Updated",
        "Agregar a esta campaña": "Add to this campaign",
        "Agregar número": "Add number",
        "Agregar y actualizar (nadie se retira)": "Add and update (nobody is retired)",
        "Ajustes, números, cierre y archivos de clientes.": (
            "Settings, numbers, closing and customer files."
        ),
        "Alerta si un chat lleva sin respuesta": "Alert when a chat is unanswered for",
        "Alerta tras": "Alert after",
        "Archivo": "File",
        "Archivo CSV o XLSX (con fila de encabezados)": "CSV or XLSX file (with a header row)",
        "Archivos con problemas": "Files with problems",
        "Asesores, supervisores y administradores.": "Agents, supervisors and admins.",
        "Base de clientes": "Customer database",
        "Capacidad (chats abiertos a la vez)": "Capacity (open chats at once)",
        "Chats automáticos por asesor por minuto": "Automatic chats per agent per minute",
        "Cierre automático tras": "Automatic close after",
        "Cierre tras": "Close after",
        "Clientes": "Customers",
        "Columnas: %(columns)s": "Columns: %(columns)s",
        "Columnas: documento (o cedula, doc) es obligatoria; nombre, telefono o celular y "
        "tipo_documento son opcionales; las demás se guardan y los flujos las ven como "
        "customer.<columna>.": (
            "Columns: documento (or cedula, doc, document) is required; nombre, telefono or "
            "celular and tipo_documento are optional; the others are kept and flows see them "
            "as customer.<column>."
        ),
        "Contenido": "Content",
        "Contraseña nueva": "New password",
        "Crear": "Create",
        "Crear campaña": "Create campaign",
        "Código Mermaid (para GitHub, GitLab o mermaid.live)": (
            "Mermaid code (for GitHub, GitLab or mermaid.live)"
        ),
        "Descargar todas las filas rechazadas (CSV)": "Download every rejected row (CSV)",
        "Descripción": "Description",
        "Desde que se abre el chat; por ejemplo 24h.": "From when the chat opens; e.g. 24h.",
        "Destinatarios iniciados por la empresa: %(n)s de %(tier)s": (
            "Business-initiated recipients: %(n)s of %(tier)s"
        ),
        "Diagrama": "Diagram",
        "Enviados": "Sent",
        "Esta importación no avanza desde hace minutos (el proceso que la hacía se detuvo).": (
            "This import has not moved for minutes (the process doing it stopped)."
        ),
        "Evento": "Event",
        "Fallidos": "Failed",
        "Filas leídas": "Rows read",
        "Filas rechazadas": "Rejected rows",
        "Flujo": "Flow",
        "Flujo %(id)s": "Flow %(id)s",
        "Flujo que saluda": "Greeting flow",
        "Flujos": "Flows",
        "Guardar": "Save",
        "Hacia": "To",
        "Identificador": "Identifier",
        "Importación de %(file)s": "Import of %(file)s",
        "Los supervisores pueden asignar chats de la cola a mano": (
            "Supervisors may assign queued chats by hand"
        ),
        "Línea": "Line",
        "Mensaje de cierre": "Closing message",
        "Minúsculas, dígitos, «-» y «_»; aparece en los flujos y los comandos.": (
            "Lower-case letters, digits, «-» and «_»; used in flows and commands."
        ),
        "Modo": "Mode",
        "Motivos": "Reasons",
        "Ninguna fila rechazada.": "No rejected rows.",
        "Nivel": "Level",
        "No hay flujos válidos en FLOWS_DIR.": "No valid flows in FLOWS_DIR.",
        "Nueva campaña": "New campaign",
        "Nueva persona": "New person",
        "Nuevo número para esta campaña": "New number for this campaign",
        "Nuevos": "New",
        "Números": "Numbers",
        "Pasos": "Steps",
        "Personas": "People",
        "Peso": "Weight",
        "Peso en el reparto": "Weight in the distribution",
        "Plantilla de cierre (fuera de la ventana de 24 horas)": (
            "Closing template (outside the 24-hour window)"
        ),
        "Política de asignación": "Assignment policy",
        "Por ejemplo 30m, 2h.": "For example 30m, 2h.",
        "Problemas": "Problems",
        "Progreso": "Progress",
        "Quitar de esta campaña": "Remove from this campaign",
        "Reanudar envíos": "Resume sending",
        "Reasignar si el asesor no responde en": "Reassign when the agent does not answer in",
        "Rechazados": "Rejected",
        "Reemplazar: el archivo pasa a ser la base de la campaña (los que no están dejan de "
        "encontrarse)": (
            "Replace: the file becomes the campaign's database (those not in it are no longer "
            "found)"
        ),
        "Reintentar": "Retry",
        "Retirados": "Retired",
        "Revisa los campos marcados.": "Check the marked fields.",
        "Rol": "Role",
        "SID de Twilio Content: HX y 32 dígitos hexadecimales.": (
            "Twilio Content SID: HX and 32 hexadecimal digits."
        ),
        "Salud de envío de cada número.": "Sending health of each number.",
        "Salud de los números": "Number health",
        "Se envía al cliente al cerrar el chat. Vacío: ninguno.": (
            "Sent to the customer when the chat closes. Empty: none."
        ),
        "Se muestran las primeras %(n)s; el CSV tiene todas.": (
            "The first %(n)s are shown; the CSV has them all."
        ),
        "Secciones de administración": "Admin sections",
        "Sin cambios": "Unchanged",
        "Sin problemas.": "No problems.",
        "Subido": "Uploaded",
        "Subir archivo de clientes": "Upload customer file",
        "Subir clientes: %(name)s": "Upload customers: %(name)s",
        "Subir e importar": "Upload and import",
        "Tiene %(n)s chats abiertos: si la desactivas, siguen siendo suyos hasta que un "
        "supervisor los reasigne.": (
            "Holds %(n)s open chats: if deactivated, they stay theirs until a supervisor "
            "reassigns them."
        ),
        "Todavía no hay campañas.": "No campaigns yet.",
        "Todavía no hay números.": "No numbers yet.",
        "Transiciones": "Transitions",
        "Un archivo inválido no reemplaza la última versión válida de su flujo.": (
            "An invalid file does not replace its flow's last valid version."
        ),
        "Un número sin campañas atiende todas.": "A number with no campaigns serves them all.",
        "Vacía: no cambia.": "Empty: unchanged.",
        "Vacía: se genera una y se muestra una vez.": "Empty: one is generated and shown once.",
        "Vacío: nunca.": "Empty: never.",
        "Versión": "Version",
        "Zona horaria": "Time zone",
        "campañas": "campaigns",
        "en pausa": "paused",
        "flujos": "flows",
        "modo %(mode)s": "mode %(mode)s",
        "no": "no",
        "números": "numbers",
        "personas": "people",
        "sí": "yes",
        "todas": "all",
        "Últimas 24 horas. Calculado: %(at)s UTC.": "Last 24 hours. Computed: %(at)s UTC.",
        # forms.py, people.py
        "«%(value)s» no es un número entero": "«%(value)s» is not a whole number",
        "la capacidad va de 1 a %(max)s chats": "capacity goes from 1 to %(max)s chats",
        "el peso va de 1 a %(max)s": "weight goes from 1 to %(max)s",
        "la contraseña necesita al menos %(min)s caracteres": (
            "the password needs at least %(min)s characters"
        ),
        "el nombre debe tener de 1 a 200 caracteres": "the name must have 1 to 200 characters",
        "«%(role)s» no es un rol": "«%(role)s» is not a role",
        "no puedes desactivarte ni quitarte el rol de administrador": (
            "you cannot deactivate yourself or drop your own admin role"
        ),
        "«%(value)s» no es un correo válido o ya existe una persona con ese correo": (
            "«%(value)s» is not a valid email, or someone already has it"
        ),
        "escribe el nombre": "write the name",
        "«%(value)s» no es un rol": "«%(value)s» is not a role",
        # uploads.py
        "«%(name)s» es un archivo de Excel 97-2003 (.xls): guárdalo como .xlsx o como CSV y "
        "súbelo de nuevo": (
            "«%(name)s» is an Excel 97-2003 file (.xls): save it as .xlsx or CSV and upload "
            "it again"
        ),
        "«%(name)s» no es un archivo CSV ni XLSX: sube la base de clientes en uno de esos "
        "formatos": (
            "«%(name)s» is neither a CSV nor an XLSX file: upload the customer file in one of "
            "those formats"
        ),
        "el archivo «%(name)s» está vacío": "the file «%(name)s» is empty",
        "el archivo pasa de %(mb)s MB: divídelo o impórtalo con «centralita customers import»": (
            "the file is over %(mb)s MB: split it or import it with «centralita customers import»"
        ),
        "%(name)s: %(problem)s": "%(name)s: %(problem)s",
        # views
        "Campaña «%(name)s» creada.": "Campaign «%(name)s» created.",
        "Cambios guardados.": "Changes saved.",
        "«%(address)s» no es un número: usa whatsapp:+E164 (por ejemplo "
        "whatsapp:+576015550100) o +E164 para SMS.": (
            "«%(address)s» is not a number: use whatsapp:+E164 (e.g. whatsapp:+576015550100) "
            "or +E164 for SMS."
        ),
        "%(address)s ya no atiende esta campaña.": "%(address)s no longer serves this campaign.",
        "Sin campañas, ahora atiende todas.": "With no campaigns, it now serves them all.",
        "Elige un flujo válido para el número nuevo.": "Choose a valid flow for the new number.",
        "%(address)s atiende esta campaña.": "%(address)s serves this campaign.",
        "Elige el archivo de clientes (CSV o XLSX).": "Choose the customer file (CSV or XLSX).",
        "Modo de importación desconocido: %(mode)s": "Unknown import mode: %(mode)s",
        "Contraseña generada (se muestra una sola vez): %(password)s": (
            "Generated password (shown only once): %(password)s"
        ),
        "%(email)s creado.": "%(email)s created.",
        "%(address)s reanudado: %(n)s mensajes retenidos vuelven a la cola de envío.": (
            "%(address)s resumed: %(n)s held messages go back to the send queue."
        ),
    }
)
