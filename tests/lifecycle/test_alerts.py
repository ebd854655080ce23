"""Unanswered alerts: due at the oldest unanswered customer message (from the handoff) +
the campaign's alert time; once per episode whatever the number of sweeps or workers; the
agent's reply resolves it; optional reassignment."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Chat,
    ChatStatus,
    User,
)
from centralita.core.sweep import sweep
from centralita.lifecycle.alerts import raise_due_unanswered
from centralita.routing.users import create_token
from centralita.web import create_app

from .conftest import Center


def test_the_alert_is_due_30_minutes_after_the_handoff_and_fires_once(
    center: Center, t0: datetime
) -> None:
    chat_id = center.handed_off(t0)
    chat = center.chat(chat_id)
    assert chat.unanswered_since == t0 and chat.alert_due_at == t0 + timedelta(minutes=30)

    assert sweep(center.rt, t0 + timedelta(minutes=29, seconds=59)).alerts_raised == 0
    assert center.alerts() == []
    assert sweep(center.rt, t0 + timedelta(minutes=30)).alerts_raised == 1
    for minutes in (31, 45, 90):
        assert sweep(center.rt, t0 + timedelta(minutes=minutes)).alerts_raised == 0
    [alert] = center.alerts()
    assert alert.chat_id == chat_id and alert.campaign_id == center.campaign_id
    assert alert.user_id == center.agents["ana"]  # the agent; supervisors by the campaign
    assert alert.resolved_at is None
    assert alert.details == {"unanswered_since": t0.isoformat(), "minutes": 30}


def test_a_queued_chat_alerts_the_campaign_without_an_agent(center: Center, t0: datetime) -> None:
    chat_id = center.handed_off(t0, agent=None)  # nobody online: it waits in the queue
    assert center.chat(chat_id).status == ChatStatus.WAITING_QUEUE
    sweep(center.rt, t0 + timedelta(minutes=30))
    [alert] = center.alerts()
    assert alert.user_id is None and alert.campaign_id == center.campaign_id


def test_the_campaign_alert_time_counts(center: Center, t0: datetime) -> None:
    center.set_campaign(alert_after_seconds=300)
    chat_id = center.handed_off(t0)
    assert center.chat(chat_id).alert_due_at == t0 + timedelta(minutes=5)


def test_the_agent_reply_resolves_the_alert_and_a_new_message_starts_a_new_episode(
    center: Center, t0: datetime
) -> None:
    chat_id = center.handed_off(t0)
    sweep(center.rt, t0 + timedelta(minutes=30))
    with center.sessions.begin() as session:
        ana = session.get(User, center.agents["ana"])
        assert ana is not None
        token = create_token(session, ana, t0)
    client: FlaskClient = create_app(runtime=center.rt, test_config={"TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {token}"}

    # The customer writing again does not move an episode already under way.
    center.write("¿hay alguien?", t0 + timedelta(minutes=40))
    assert center.chat(chat_id).unanswered_since == t0

    def open_unanswered() -> list[dict[str, object]]:
        listed = client.get("/api/v1/alerts?open=true", headers=headers).get_json()["alerts"]
        # (The bot's replies, sent late by the inline runner, failed: delivery alerts too.)
        return [a for a in listed if a["kind"] == "unanswered"]

    [listed] = open_unanswered()
    assert (listed["chat_id"], listed["agent"]) == (chat_id, "ana@x.co")
    answer = client.post(
        f"/api/v1/chats/{chat_id}/messages", json={"text": "Hola"}, headers=headers
    )
    assert answer.status_code == 201, answer.get_json()
    [alert] = center.alerts()
    assert alert.resolved_at is not None
    chat = center.chat(chat_id)
    assert (chat.unanswered_since, chat.alert_due_at) == (None, None)
    assert open_unanswered() == []

    later = t0 + timedelta(hours=2)
    center.write("gracias, otra pregunta", later)
    chat = center.chat(chat_id)
    assert chat.unanswered_since == later and chat.alert_due_at == later + timedelta(minutes=30)
    sweep(center.rt, later + timedelta(minutes=30))
    first, second = center.alerts()
    assert first.resolved_at is not None and second.resolved_at is None
    assert second.key == f"unanswered:{chat_id}:{later.isoformat()}"


def test_an_alert_fires_once_across_two_concurrent_workers(center: Center, t0: datetime) -> None:
    chats = [center.handed_off(t0, agent=None)]
    for i in range(1, 40):
        received = center.write("hola", t0, from_=f"whatsapp:+5730000{i:05d}")
        center.write("1012345678", t0, from_=f"whatsapp:+5730000{i:05d}")
        assert received.chat_id is not None
        chats.append(received.chat_id)
    due = t0 + timedelta(minutes=30)
    start = threading.Barrier(2)

    def worker() -> int:
        start.wait()  # both at once
        return sum(raise_due_unanswered(center.rt, due) for _ in range(3))

    with ThreadPoolExecutor(2) as pool:
        counts = [f.result(timeout=60) for f in [pool.submit(worker) for _ in range(2)]]
    assert sum(counts) == len(chats)
    alerts = center.alerts()
    assert sorted(a.chat_id or 0 for a in alerts) == sorted(chats)
    assert sweep(center.rt, due + timedelta(minutes=1)).alerts_raised == 0


def test_whole_sweeps_at_once_raise_each_alert_once(center: Center, t0: datetime) -> None:
    for i in range(20):
        center.write("hola", t0, from_=f"whatsapp:+5731000{i:05d}")
        center.write("1012345678", t0, from_=f"whatsapp:+5731000{i:05d}")
    due = t0 + timedelta(minutes=30)
    start = threading.Barrier(3)

    def worker() -> None:
        start.wait()
        sweep(center.rt, due)

    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(worker) for _ in range(3)]:
            future.result(timeout=60)  # raises what the thread raised
    assert len(center.alerts()) == 20


def test_reassigned_to_another_agent_when_unanswered_for_the_campaign_time(
    center: Center, t0: datetime
) -> None:
    center.set_campaign(reassign_after_seconds=600)
    chat_id = center.handed_off(t0)
    assert center.chat(chat_id).agent_id == center.agents["ana"]
    assert center.chat(chat_id).reassign_due_at == t0 + timedelta(minutes=10)
    at = t0 + timedelta(minutes=10)
    center.online("ana", "alba", at=at)
    report = sweep(center.rt, at)
    assert report.reassigned == 1
    chat = center.chat(chat_id)
    assert chat.agent_id == center.agents["alba"] and chat.status == ChatStatus.ASSIGNED
    assert chat.reassign_due_at == at + timedelta(minutes=10)  # the clock starts again
    with center.sessions() as session:
        last = session.scalars(
            select(Assignment).where(Assignment.chat_id == chat_id).order_by(Assignment.id)
        ).all()[-1]
        assert last.kind == AssignmentKind.REASSIGN and last.by_user_id is None
        assert last.reason == (
            "sin respuesta durante 10 min: reasignado automáticamente de ana@x.co a alba@x.co"
        )


def test_back_to_the_queue_when_nobody_else_is_eligible(center: Center, t0: datetime) -> None:
    center.set_campaign(reassign_after_seconds=600)
    chat_id = center.handed_off(t0)
    at = t0 + timedelta(minutes=10)
    center.online(at=at)  # everyone offline now
    assert sweep(center.rt, at).reassigned == 1
    chat = center.chat(chat_id)
    assert chat.status == ChatStatus.WAITING_QUEUE and chat.agent_id is None
    with center.sessions() as session:
        kinds = session.scalars(
            select(Assignment.kind).where(Assignment.chat_id == chat_id).order_by(Assignment.id)
        ).all()
        assert kinds == [AssignmentKind.ASSIGN, AssignmentKind.UNASSIGN]
        assert session.scalar(select(Chat.unanswered_since).where(Chat.id == chat_id)) == t0
