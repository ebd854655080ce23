"""The Flask application factory, in the Flask tutorial's shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from centralita.core import runtime as runtimes
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.web import (
    admin,
    api,
    events,
    health,
    inbox,
    login,
    simulator,
    supervise,
    webhooks,
)
from centralita.web.auth.views import bp as auth_bp
from centralita.web.services import EXTENSION_KEY


def create_app(
    settings: Settings | None = None,
    test_config: Mapping[str, Any] | None = None,
    *,
    runtime: Runtime | None = None,
) -> Flask:
    """The app for `settings` (default: from the environment); `test_config` overrides config.
    `runtime` lets tests choose how jobs run and where messages go."""
    if runtime is None:
        runtime = Runtime.build(settings or Settings.from_env())
    app = Flask(__name__)
    if runtime.settings.trusted_proxies:
        # The client's address (the sign-in throttle counts it) from the proxies' own
        # X-Forwarded-For entries only; without proxies the header is anyone's to forge.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=runtime.settings.trusted_proxies)  # type: ignore[method-assign]
    app.config.from_mapping(SECRET_KEY=runtime.settings.secret_key)
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.extensions[EXTENSION_KEY] = runtime
    # Jobs run outside requests (a worker thread, RQ) and find the runtime here.
    runtimes.install(runtime)

    app.register_blueprint(health.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    # The pages: sign-in, CSRF and cookies first (web/login.py), then one blueprint per area.
    login.install(app)
    login.csrf.exempt(webhooks.bp)  # Twilio's signature protects these
    login.csrf.exempt(api.bp)  # bearer tokens, never cookies
    app.register_blueprint(auth_bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(supervise.bp)
    app.register_blueprint(admin.bp)
    simulator.install(app)  # demo and development only (SIMULATOR_ENABLED or demo mode)
    return app
