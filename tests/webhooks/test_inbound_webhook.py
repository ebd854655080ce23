"""Inbound WhatsApp messages through the signed webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.transport import ConsoleTransport
from centralita.core.events import broker_for
from centralita.core.models import Chat, ChatStatus, Contact, Direction, Message, MessageStatus
from centralita.core.runtime import Runtime

from .conftest import CUSTOMER, NUMBER, Poster, inbound_params

MESSAGES = "/webhooks/twilio/messages"


def _messages(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def test_a_message_opens_a_chat_and_the_bot_answers(
    post: Poster, seeded: sessionmaker[Session], console: ConsoleTransport
) -> None:
    response = post(MESSAGES, inbound_params("hola"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response/>")

    stored = _messages(seeded)
    assert [(m.direction, m.author, m.text) for m in stored] == [
        ("in", "customer", "hola"),
        ("out", "bot", "¡Hola Ana! 👋"),
        ("out", "bot", "Escribe tu documento"),
    ]
    assert stored[0].raw is not None and stored[0].raw["WaId"] == "573001234567"
    # The replies left through the transport, in order, to the customer from our number.
    assert [(m.from_, m.to, m.body) for m in console.sent] == [
        (NUMBER, CUSTOMER, "¡Hola Ana! 👋"),
        (NUMBER, CUSTOMER, "Escribe tu documento"),
    ]
    assert all(m.status == MessageStatus.SENT and m.provider_sid for m in stored[1:])
    assert (
        console.sent[0].status_callback == "https://centralita.example.com/webhooks/twilio/status"
    )
    with seeded() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.status == ChatStatus.BOT and chat.flow_id == "saludo"
        assert chat.bot_state is not None and chat.bot_state["step"] == "doc"
        assert chat.wait_deadline is not None  # the question's silence timer


def test_the_document_finds_the_customer_and_hands_off_to_her_campaign(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    post(MESSAGES, inbound_params("hola"))
    post(MESSAGES, inbound_params("1.012.345.678"))
    with seeded() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.status == ChatStatus.WAITING_QUEUE
        assert chat.campaign is not None and chat.campaign.slug == "castigada"
        assert chat.customer is not None and chat.customer.name == "Ana"
        assert chat.queued_at is not None
    assert _messages(seeded)[-1].text == "Te paso con Cartera castigada"


def test_a_closed_chat_is_followed_by_a_new_one_at_the_flow_start(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    post(MESSAGES, inbound_params("hola"))
    post(MESSAGES, inbound_params("999999"))  # not found: the flow ends the chat
    post(MESSAGES, inbound_params("hola otra vez"))
    with seeded() as session:
        chats = session.scalars(select(Chat).order_by(Chat.id)).all()
        assert [c.status for c in chats] == [ChatStatus.CLOSED, ChatStatus.BOT]
        assert chats[0].close_reason == "bot_completed"
    assert _messages(seeded)[-1].text == "Escribe tu documento"


def test_a_repeated_message_sid_is_processed_once(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    params = inbound_params("hola")
    assert post(MESSAGES, params).status_code == 200
    assert post(MESSAGES, params).status_code == 200
    assert len(_messages(seeded)) == 3


def test_a_bad_or_missing_signature_gets_403_and_stores_nothing(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    assert post(MESSAGES, inbound_params(), signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert post(MESSAGES, inbound_params(), signature=None).status_code == 403
    # Signed for other parameters than those sent: a tampered body.
    params = inbound_params("hola")
    from centralita.channels.twilio_client import compute_signature

    from .conftest import AUTH_TOKEN, PUBLIC

    forged = compute_signature(AUTH_TOKEN, PUBLIC + MESSAGES, {**params, "Body": "otra"})
    assert post(MESSAGES, params, signature=forged).status_code == 403
    assert post(MESSAGES, params, signature="firmé").status_code == 403  # not even ASCII
    assert _messages(seeded) == []


def test_a_signature_of_the_url_with_its_port_is_accepted_too(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    # Twilio's back end has signed the URL with the default port (RequestValidator accepts
    # both forms); the URL as configured is checked first, the other form after.
    from centralita.channels.twilio_client import compute_signature

    from .conftest import AUTH_TOKEN, PUBLIC

    params = inbound_params("hola")
    with_port = PUBLIC.replace(".com", ".com:443") + MESSAGES
    signature = compute_signature(AUTH_TOKEN, with_port, params)
    assert post(MESSAGES, params, signature=signature).status_code == 200
    assert len(_messages(seeded)) == 3


def test_malformed_parameters_get_400_naming_the_parameter(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    cases = {
        "MessageSid": {"MessageSid": ""},
        "From": {"From": "not-a-phone"},
        "To": {"To": "whatsapp:12"},
        "NumMedia": {"NumMedia": "lots"},
        "MediaUrl0": {"NumMedia": "1"},
        "Latitude": {"Latitude": "north", "Longitude": "3"},
    }
    for parameter, change in cases.items():
        response = post(MESSAGES, inbound_params(**change))
        assert response.status_code == 400, parameter
        assert response.get_data(as_text=True).startswith(f"{parameter}:"), parameter
    assert _messages(seeded) == []


def test_a_body_over_64_kb_gets_413(post: Poster, seeded: sessionmaker[Session]) -> None:
    response = post(MESSAGES, inbound_params("x" * 70_000))
    assert response.status_code == 413
    assert _messages(seeded) == []


def test_a_number_nobody_added_is_rejected_without_reply(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    response = post(MESSAGES, inbound_params(To="whatsapp:+5716009999"))
    assert response.status_code == 200
    assert _messages(seeded) == []


def test_emoji_accents_and_right_to_left_text_round_trip(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    text = "Ñandú 🦩 café — مرحبا بالعالم — שלום"
    post(MESSAGES, inbound_params(text, ProfileName="José 🇨🇴"))
    stored = _messages(seeded)
    assert stored[0].text == text
    assert stored[1].text == "¡Hola José 🇨🇴! 👋"
    with seeded() as session:
        assert session.scalars(select(Contact)).one().profile_name == "José 🇨🇴"


def test_a_media_only_message_reaches_the_flow_with_empty_text(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    post(MESSAGES, inbound_params("hola"))
    params = inbound_params(
        "",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert post(MESSAGES, params).status_code == 200
    stored = _messages(seeded)
    photo = stored[3]
    assert photo.text == "" and photo.media == [
        {"url": params["MediaUrl0"], "content_type": "image/jpeg"}
    ]
    # An empty reply to a document question is invalid: the bot says so.
    assert stored[-1].direction == Direction.OUT
    assert stored[-1].text == "No entendí tu respuesta. Por favor intenta de nuevo."


def test_stop_opts_out_with_a_confirmation_and_start_reverses_it(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    post(MESSAGES, inbound_params("hola"))
    post(MESSAGES, inbound_params("BAJA"))
    assert _messages(seeded)[-1].text.startswith("Listo, no te enviaremos más mensajes")
    post(MESSAGES, inbound_params("Alta"))
    assert _messages(seeded)[-1].text.startswith("¡Bienvenido de nuevo!")
    # "alta" when not opted out is an ordinary answer for the flow.
    post(MESSAGES, inbound_params("alta"))
    assert _messages(seeded)[-1].text == "No entendí tu respuesta. Por favor intenta de nuevo."
    with seeded() as session:
        count = session.scalar(select(func.count()).select_from(Message))
    assert count == 9


def test_a_handoff_goes_at_once_to_an_online_agent_of_the_campaign(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    from centralita.core.models import Assignment, Campaign, Presence, utcnow
    from centralita.routing.users import create_user

    with seeded.begin() as session:
        campaign = session.scalars(select(Campaign)).one()
        agent = create_user(
            session,
            "ana.agente@x.co",
            name="Ana",
            role="agent",
            password="x" * 12,
            campaigns=[campaign],
        )
        agent.presence = Presence.ONLINE
        agent.last_seen_at = utcnow()
        agent_id = agent.id
    post(MESSAGES, inbound_params("hola"))
    broker = broker_for(rt.engine)
    assert broker is not None
    listener = broker.subscribe()
    try:
        post(MESSAGES, inbound_params("1012345678"))
        heard = []
        while (event := listener.get(timeout=0.2)) is not None:
            heard.append(event)
    finally:
        listener.close()
    with seeded() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.status == ChatStatus.ASSIGNED
        assert chat.agent is not None and chat.agent.email == "ana.agente@x.co"
        log = session.scalars(select(Assignment)).one()
        assert log.agent_id == chat.agent_id and log.by_user_id is None
    # Her page hears of the message at once: the event names the agent the chat went to.
    assert any(
        e.kind == "message" and e.chat_id == chat.id and agent_id in e.agent_ids for e in heard
    ), heard


def test_webhooks_answer_without_a_session_cookie_and_keep_the_security_headers(
    post: Poster, channel_client: FlaskClient, seeded: sessionmaker[Session]
) -> None:
    # A browser's cookie of ours sent along is neither read nor answered.
    channel_client.set_cookie("centralita_session", "not-a-session")
    answer = post(MESSAGES, inbound_params("hola"))
    assert answer.status_code == 200
    assert answer.data.endswith(b"<Response/>")
    assert "Set-Cookie" not in answer.headers
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert len(_messages(seeded)) == 3
    # The pages still have their session: the sign-in form's CSRF token lives in it.
    page = channel_client.get("/login")
    assert page.status_code == 200
    assert "centralita_session=" in page.headers.get("Set-Cookie", "")
