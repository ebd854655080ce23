"""Browser tests of the supervisor, admin and simulator pages: helper A's Playwright fixtures
(Debian's chromium, screenshots kept under test-artifacts/ on failure) against a site of our
own, served by a real server thread on SQLite.

The site: one campaign with two online agents (Ana holds a chat), a supervisor, an admin,
the shipped flows and a number, and the customer simulator on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.db import make_engine
from centralita.core.jobs import InlineJobs
from centralita.core.models import (
    Base,
    Chat,
    ChatStatus,
    Contact,
    Presence,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.devtools.server import BackgroundServer
from centralita.routing.users import create_user
from centralita.web import create_app
from tests.browser.playwright_fixtures import Shots
from tests.simulator.world import NUMBER, add_cartera

FLOWS = Path(__file__).resolve().parents[2] / "flows"
PASSWORD = "clave-del-navegador"


@dataclass
class StaffSite:
    base_url: str
    rt: Runtime
    chat_id: int  # assigned to Ana

    def sign_in(self, page: Any, email: str) -> None:
        page.goto(f"{self.base_url}/login")
        page.get_by_label(re.compile("Correo")).fill(email)
        page.get_by_label(re.compile("Contraseña")).fill(PASSWORD)
        page.get_by_label(re.compile("Contraseña")).press("Enter")  # the keyboard is enough
        page.wait_for_url(re.compile(r"/(supervise|admin|inbox|sessions)"))


@pytest.fixture
def staff_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StaffSite]:
    from werkzeug.security import generate_password_hash

    from centralita.routing import users

    monkeypatch.setattr(
        users, "generate_password_hash", lambda p: generate_password_hash(p, "pbkdf2:sha256:1")
    )
    url = f"sqlite:///{tmp_path / 'centralita.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = Settings(
        secret_key="browser-b",
        database_url=url,
        flows_dir=FLOWS,
        storage_dir=tmp_path / "storage",
    )
    runtime = Runtime.build(settings, jobs=InlineJobs(), transport=ConsoleTransport())
    now = utcnow()
    with runtime.sessions.begin() as session:
        campaign = add_cartera(session)
        people = {}
        for email, name, role in [
            ("ana@x.co", "Ana", "agent"),
            ("alba@x.co", "Alba", "agent"),
            ("sara@x.co", "Sara", "supervisor"),
            ("root@x.co", "Root", "admin"),
        ]:
            people[email] = create_user(
                session,
                email,
                name=name,
                role=role,
                password=PASSWORD,
                campaigns=[campaign] if role != "admin" else [],
            )
            people[email].presence = Presence.ONLINE
            people[email].last_seen_at = now
        contact = Contact(
            address="whatsapp:+573009990000",
            phone="+573009990000",
            profile_name="Cliente Uno",
            channel="whatsapp",
        )
        session.add(contact)
        session.flush()
        chat = Chat(
            contact_id=contact.id,
            number=NUMBER,
            status=ChatStatus.ASSIGNED,
            campaign_id=campaign.id,
            agent_id=people["ana@x.co"].id,
            assigned_at=now,
            last_customer_message_at=now,
        )
        session.add(chat)
        session.flush()
        chat_id = chat.id
    app = create_app(runtime=runtime, test_config={"SIMULATOR_ENABLED": True})
    server = BackgroundServer(app)
    try:
        yield StaffSite(server.base_url, runtime, chat_id)
    finally:
        server.stop()
        runtimes.install(None)
        runtime.engine.dispose()


__all__ = ["PASSWORD", "Shots", "StaffSite"]
