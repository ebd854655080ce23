"""The Flask application factory, in the Flask tutorial's shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from redis import Redis

from centralita.core.db import make_engine, session_factory
from centralita.core.settings import Settings
from centralita.web import health
from centralita.web.services import EXTENSION_KEY, Services

# Enqueueing and publishing must fail fast when Redis is down, not hang a webhook.
REDIS_TIMEOUT = 2.0


def create_app(
    settings: Settings | None = None, test_config: Mapping[str, Any] | None = None
) -> Flask:
    """The app for `settings` (default: from the environment); `test_config` overrides config."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(SECRET_KEY=settings.secret_key)
    if test_config is not None:
        app.config.from_mapping(test_config)

    engine = make_engine(settings.database_url)
    redis = None
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
    app.extensions[EXTENSION_KEY] = Services(settings, engine, session_factory(engine), redis)

    app.register_blueprint(health.bp)
    return app
