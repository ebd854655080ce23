"""What blueprints share: the process's Runtime (settings, database, Redis, flows, jobs)."""

from __future__ import annotations

from flask import Flask, current_app

from centralita.core.runtime import Runtime

EXTENSION_KEY = "centralita"

Services = Runtime  # the name blueprints have used since the first one


def services(app: Flask | None = None) -> Runtime:
    """The app's runtime: the current app's by default (needs an app or request context)."""
    found: Runtime = (app or current_app).extensions[EXTENSION_KEY]
    return found
