"""What blueprints share, made once per app by `create_app`: settings, engine, sessions, Redis."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.settings import Settings

EXTENSION_KEY = "centralita"


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis | None


def services(app: Flask | None = None) -> Services:
    """The app's services: the current app's by default (needs an app or request context)."""
    found: Services = (app or current_app).extensions[EXTENSION_KEY]
    return found
