"""Pages cannot be framed by another site (clickjacking an agent into closing a chat) and
served files are never sniffed into something else."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.inbox.conftest import World


def test_pages_refuse_frames_and_sniffing(agent_client: FlaskClient, world: World) -> None:
    for path in ("/login", "/inbox/", f"/inbox/chats/{world.chats['a_assigned']}"):
        response = agent_client.get(path)
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", "")
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
