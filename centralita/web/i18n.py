"""The pages' languages: Spanish (the default, what agents and customers speak) and English.

Templates and views write Spanish text inside `_()`; English is a lookup in CATALOG, keyed by
the Spanish text, so a missing translation shows Spanish rather than nothing. A test checks
that every `_()` text used in the templates has its English entry. `%(name)s` placeholders
are filled after translation: `_("Hola, %(name)s", name=user.name)`.

Other areas add their texts with `add_translations({...})` at import time.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request, session

LANGUAGES = {"es": "Español", "en": "English"}
DEFAULT_LANGUAGE = "es"
SESSION_KEY = "lang"

CATALOG: dict[str, dict[str, str]] = {"en": {}}


def add_translations(english: dict[str, str]) -> None:
    """Add English translations (Spanish text -> English text)."""
    CATALOG["en"].update(english)


def current_language() -> str:
    """The language chosen with the switch; else the browser's first supported one."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    best = request.accept_languages.best_match(list(LANGUAGES))
    return best or DEFAULT_LANGUAGE


def gettext(text: str, **values: Any) -> str:
    language = current_language()
    translated = CATALOG.get(language, {}).get(text, text) if language != "es" else text
    return translated % values if values else translated


_ = gettext

add_translations(
    {
        # base.html
        "Centralita": "Centralita",
        "Bandeja": "Inbox",
        "Supervisión": "Supervision",
        "Administración": "Administration",
        "Sesiones": "Sessions",
        "Simulador": "Simulator",
        "Salir": "Sign out",
        "Idioma": "Language",
        "Saltar al contenido": "Skip to content",
        "Navegación principal": "Main navigation",
        "Mi estado": "My status",
        "Disponible": "Online",
        "Ausente": "Away",
        "Desconectado": "Offline",
        "Conectado como %(name)s (%(role)s)": "Signed in as %(name)s (%(role)s)",
        "agente": "agent",
        "supervisor": "supervisor",
        "administrador": "admin",
        # sign-in
        "Iniciar sesión": "Sign in",
        "Correo": "Email",
        "Contraseña": "Password",
        "Entrar": "Sign in",
        "Correo o contraseña incorrectos.": "Wrong email or password.",
        "Demasiados intentos fallidos. Espera %(minutes)s minutos e inténtalo de nuevo.": (
            "Too many failed attempts. Wait %(minutes)s minutes and try again."
        ),
        "Tu sesión expiró por inactividad. Vuelve a entrar.": (
            "Your session expired after a period of inactivity. Please sign in again."
        ),
        "Cerraste la sesión.": "You signed out.",
        "Inicia sesión para continuar.": "Sign in to continue.",
        "El formulario caducó o no es válido. Recarga la página e inténtalo de nuevo.": (
            "The form expired or is not valid. Reload the page and try again."
        ),
        "No tienes permiso para ver esta página.": "You are not allowed to see this page.",
        "No encontrado": "Not found",
        "Prohibido": "Forbidden",
        "Solicitud no válida": "Bad request",
    }
)
