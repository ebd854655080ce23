"""An agent's day in a real browser: sign in by keyboard, go online, a customer's chat arrives
live (signed webhooks, the bot hands off), answer with Enter, see the customer's next message
live, close with a reason."""

from __future__ import annotations

import re
from typing import Any

import requests
from playwright.sync_api import expect
from sqlalchemy import select

from centralita.core.models import Author, Chat, ChatStatus, Message, Presence, User, utcnow
from tests.browser.conftest import PASSWORD, Site
from tests.browser.playwright_fixtures import Shots

CUSTOMER = "whatsapp:+573001112233"


def _sign_in(page: Any, site: Site, email: str) -> None:
    page.goto(f"{site.base_url}/login")
    # By keyboard: the email field has the focus; Tab to the password; Enter submits.
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/inbox/$"))


def test_an_agent_receives_answers_and_closes_a_chat(
    site: Site, new_page: Any, shots: Shots
) -> None:
    page = new_page()
    _sign_in(page, site, "ana@x.co")
    shots.take(page, "inbox-empty")
    expect(page.locator("#chatlist")).to_contain_text("No tienes chats abiertos")
    page.locator("#presence").select_option("online")
    expect(page.locator("#live-status")).to_have_text("En vivo")

    # The customer writes; the bot asks for the document; with it, hands off to Ana.
    site.customer_writes(CUSTOMER, "hola")
    site.customer_writes(CUSTOMER, "1012345678")
    item = page.locator("#chatlist li[data-chat-id]")
    expect(item).to_have_count(1)  # arrived without a reload
    expect(item).to_contain_text("Carla Cliente")
    expect(item.locator(".badge")).to_have_text(re.compile(r"^2"))  # two unread messages
    shots.take(page, "inbox-chat-arrived")

    # Open it by keyboard.
    item.locator("a").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/inbox/chats/\d+$"))
    messages = page.locator("#messages")
    for text in ["hola", "Escribe tu documento", "1012345678", "Te paso con un asesor"]:
        expect(messages).to_contain_text(text)
    expect(page.locator("#customer-card")).to_contain_text("Medellín")
    expect(page.locator("#customer-card")).to_contain_text("1520000")
    expect(page.locator("#reply-text")).to_be_focused()
    shots.take(page, "chat")

    # Enter sends; Shift+Enter would be a new line.
    page.keyboard.type("Hola Carla, ¿en qué te ayudo?")
    page.keyboard.press("Enter")
    expect(messages.locator(".msg.agent")).to_contain_text("Hola Carla, ¿en qué te ayudo?")
    expect(page.locator("#reply-text")).to_have_value("")

    # The customer answers: it appears in the open conversation, live.
    site.customer_writes(CUSTOMER, "Quiero pagar mi deuda")
    expect(messages).to_contain_text("Quiero pagar mi deuda")
    shots.take(page, "chat-live")

    # Close, with a confirmation and a reason.
    page.locator("#close-open").click()
    dialog = page.locator("#close-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#close-reason")).to_be_focused()
    page.keyboard.type("Acordó el pago")
    page.keyboard.press("Tab")  # to "Cerrar definitivamente"
    expect(page.locator("#close-confirm")).to_be_focused()
    shots.take(page, "close-dialog")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/inbox/$"))
    expect(page.locator(".flashes")).to_contain_text("Chat cerrado.")
    expect(page.locator("#chatlist li[data-chat-id]")).to_have_count(0)
    shots.take(page, "inbox-after-close")

    with site.rt.sessions() as session:
        chat = session.scalars(select(Chat)).one()
        assert (chat.status, chat.close_reason) == (ChatStatus.CLOSED, "Acordó el pago")
        replies = session.scalars(
            select(Message.text).where(Message.chat_id == chat.id, Message.author == Author.AGENT)
        ).all()
        assert replies == ["Hola Carla, ¿en qué te ayudo?"]


def test_a_chat_of_another_campaign_never_reaches_the_page(
    site: Site, new_page: Any, shots: Shots
) -> None:
    page = new_page()
    _sign_in(page, site, "beto@x.co")
    page.locator("#presence").select_option("online")
    expect(page.locator("#live-status")).to_have_text("En vivo")
    site.customer_writes(CUSTOMER, "hola")
    site.customer_writes(CUSTOMER, "1012345678")  # a customer of castigada, not ventas
    page.wait_for_timeout(700)
    expect(page.locator("#chatlist li[data-chat-id]")).to_have_count(0)
    with site.rt.sessions() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.status == ChatStatus.WAITING_QUEUE
    response = page.goto(f"{site.base_url}/inbox/chats/{chat.id}")
    assert response is not None and response.status == 404
    shots.take(page, "not-found")


def test_the_interface_switches_to_english(site: Site, new_page: Any, shots: Shots) -> None:
    page = new_page()
    _sign_in(page, site, "ana@x.co")
    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.locator("#mychats")).to_contain_text("My chats")
    expect(page.locator("#chatlist")).to_contain_text("You have no open chats")
    shots.take(page, "english")


def test_a_chat_reassigned_away_leaves_the_page_live(
    site: Site, new_page: Any, shots: Shots
) -> None:
    page = new_page()
    _sign_in(page, site, "ana@x.co")
    page.locator("#presence").select_option("online")
    expect(page.locator("#live-status")).to_have_text("En vivo")
    site.customer_writes(CUSTOMER, "hola")  # Alba is offline: the chat goes to Ana
    site.customer_writes(CUSTOMER, "1012345678")
    page.locator("#chatlist li[data-chat-id] a").click()
    expect(page.locator("#reply-text")).to_be_visible()
    with site.rt.sessions.begin() as session:  # Alba comes online; Sara moves the chat to her
        alba = session.scalars(select(User).where(User.email == "alba@x.co")).one()
        alba.presence, alba.last_seen_at = Presence.ONLINE, utcnow()
        chat_id = session.scalars(select(Chat.id)).one()
    moved = requests.post(
        f"{site.base_url}/api/v1/chats/{chat_id}/reassign",
        json={"agent": "alba@x.co", "reason": "Ana sale a almorzar"},
        headers={"Authorization": f"Bearer {site.supervisor_token}"},
        timeout=10,
    )
    assert moved.status_code == 200, moved.text
    expect(page.locator("#chatlist li[data-chat-id]")).to_have_count(0)
    expect(page.locator("#reply-form")).to_be_hidden()
    expect(page.locator("#read-only")).to_have_text("Este chat ya no está asignado a ti.")
    shots.take(page, "reassigned-away")
