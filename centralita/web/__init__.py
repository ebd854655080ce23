"""The web application: app factory and one blueprint per area."""

from centralita.web.app import create_app

__all__ = ["create_app"]
