"""In a real browser: a supervisor reassigns a chat; an admin uploads a customer file with
bad rows, sees them and downloads them; a customer writes in the simulator and the bot
answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from centralita.core.models import Assignment, Chat, Customer, Presence, User
from tests.browser_b.conftest import Shots, StaffSite

BAD_ROWS_FILE = (
    "documento;nombre;celular;saldo\n"
    "80.111.222;Pedro Páramo;300 555 1111;500.000\n"
    ";Sin Documento;;1\n"
    "80.111.222;Pedro Repetido;;2\n"
    "52.333.444;Susana San Juan;;3\n"
)


def test_a_supervisor_reassigns_a_chat(staff_site: StaffSite, new_page: Any, shots: Shots) -> None:
    page = new_page()
    staff_site.sign_in(page, "sara@x.co")
    page.goto(f"{staff_site.base_url}/supervise/")
    shots.take(page, "supervise")
    board = page.locator("#agents-table")
    ana = board.locator('tr[data-agent="ana@x.co"]')
    expect(ana).to_contain_text("1/5")
    expect(ana).to_contain_text("Disponible")
    ana.get_by_role("link", name=f"#{staff_site.chat_id}").click()
    page.wait_for_url(re.compile(rf"/supervise/chats/{staff_site.chat_id}$"))
    shots.take(page, "chat")
    choices = page.locator("#agent option").all_inner_texts()
    assert any("alba@x.co" in c for c in choices)
    assert not any("ana@x.co" in c for c in choices)  # holds it already

    # Without a reason the browser itself asks for one (required): nothing moves.
    page.select_option("#agent", "alba@x.co")
    page.get_by_role("button", name="Reasignar").click()
    assert page.eval_on_selector("#reason", "e => !e.validity.valid")
    page.fill("#reason", "Ana sale a almorzar")
    page.get_by_role("button", name="Reasignar").click()
    expect(page.locator(".flash")).to_contain_text(f"Chat {staff_site.chat_id} reasignado a Alba")
    expect(page.locator("#chat-agent")).to_contain_text("alba@x.co")
    log = page.locator("#assignment-log")
    expect(log).to_contain_text("Reasignación")
    expect(log).to_contain_text("Ana sale a almorzar")
    shots.take(page, "reassigned")

    with staff_site.rt.sessions() as session:
        chat = session.get(Chat, staff_site.chat_id)
        alba = session.scalars(select(User).where(User.email == "alba@x.co")).one()
        assert chat is not None and chat.agent_id == alba.id
        row = session.scalars(select(Assignment)).one()
        assert "Ana sale a almorzar" in row.reason

    # The board follows: Alba holds it now.
    page.goto(f"{staff_site.base_url}/supervise/")
    expect(page.locator('tr[data-agent="alba@x.co"]')).to_contain_text("1/5")
    expect(page.locator('tr[data-agent="ana@x.co"]')).to_contain_text("0/5")


def test_an_admin_uploads_a_file_with_bad_rows_and_gets_them_back(
    staff_site: StaffSite, new_page: Any, shots: Shots, tmp_path: Path
) -> None:
    upload = tmp_path / "clientes-enero.csv"
    upload.write_text(BAD_ROWS_FILE, encoding="utf-8")
    page = new_page()
    staff_site.sign_in(page, "root@x.co")
    page.goto(f"{staff_site.base_url}/admin/campaigns")
    page.get_by_role("link", name="Cartera Morosa").click()
    page.get_by_role("link", name="Subir archivo de clientes").click()
    shots.take(page, "upload-form")
    page.set_input_files("#file", str(upload))
    page.get_by_role("button", name="Subir e importar").click()
    page.wait_for_url(re.compile(r"/admin/uploads/[0-9a-f]{32}$"))
    expect(page.locator("#upload-state")).to_have_text("Terminado")
    shots.take(page, "upload-result")
    expect(page.locator('[data-count="inserted"]')).to_have_text("2")
    expect(page.locator('[data-count="rejected"]')).to_have_text("2")
    rows = page.locator("#rejected-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("3")
    expect(rows.nth(0)).to_contain_text("no document")
    expect(rows.nth(1)).to_contain_text("Pedro Repetido")

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Descargar todas las filas rechazadas")).click()
    download = download_info.value
    assert download.suggested_filename.startswith("rechazados-cartera-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0] == "line;reason;documento;nombre;celular;saldo"
    assert [line.split(";")[0] for line in lines[1:]] == ["3", "4"]

    with staff_site.rt.sessions() as session:
        documents = set(session.scalars(select(Customer.document)))
        assert {"80111222", "52333444"} <= documents


def test_an_admin_is_told_why_a_file_is_refused(
    staff_site: StaffSite, new_page: Any, shots: Shots, tmp_path: Path
) -> None:
    wrong = tmp_path / "clientes.pdf"
    wrong.write_bytes(b"%PDF-1.4 not customers")
    page = new_page()
    staff_site.sign_in(page, "root@x.co")
    page.goto(f"{staff_site.base_url}/admin/campaigns/cartera/upload")
    page.set_input_files("#file", str(wrong))
    page.get_by_role("button", name="Subir e importar").click()
    expect(page.locator("#upload-error")).to_contain_text("no es un archivo CSV ni XLSX")
    shots.take(page, "refused")


def test_a_customer_writes_in_the_simulator_and_the_bot_answers(
    staff_site: StaffSite, new_page: Any, shots: Shots
) -> None:
    page = new_page()
    page.goto(f"{staff_site.base_url}/simulator/")
    page.fill("#sim-phone", "300 123 4567")
    page.get_by_role("button", name="Abrir conversación").click()
    # The form reloads the page for that phone: typing before it has would be lost with it.
    page.wait_for_url(re.compile(r"[?&]phone=300"))
    body = page.locator("#sim-body")
    body.fill("Hola")
    body.press("Enter")  # Enter sends
    messages = page.locator("#sim-messages")
    expect(messages.locator(".bubble.in.customer")).to_have_count(1)
    expect(messages.locator(".bubble.out.bot").first).to_be_visible()
    expect(messages).to_contain_text("documento")
    body.fill("1.012.345.678")
    body.press("Enter")
    expect(messages).to_contain_text("1.250.000")
    shots.take(page, "simulator")


def test_the_queue_shows_a_new_waiting_chat_without_reloading(
    staff_site: StaffSite, new_page: Any, shots: Shots
) -> None:
    with staff_site.rt.sessions.begin() as session:  # nobody to take it: it waits
        for person in session.scalars(select(User).where(User.role == "agent")):
            person.presence = Presence.OFFLINE
    supervisor = new_page()
    staff_site.sign_in(supervisor, "sara@x.co")
    supervisor.goto(f"{staff_site.base_url}/supervise/")
    expect(supervisor.locator("#queue")).to_contain_text("No hay chats esperando asesor.")

    phone = new_page()
    phone.goto(f"{staff_site.base_url}/simulator/?phone=3001234567")
    for text in ["Hola", "1012345678", "4"]:  # 4: talk to an agent
        phone.locator("#sim-body").fill(text)
        phone.locator("#sim-body").press("Enter")
        expect(phone.locator("#sim-messages .bubble.in")).to_have_count(
            ["Hola", "1012345678", "4"].index(text) + 1
        )
    expect(phone.locator("#sim-chat-status")).to_contain_text("En cola", timeout=5000)

    queue = supervisor.locator("#queue-table tbody tr")
    expect(queue).to_have_count(1, timeout=5000)  # live: no reload
    expect(queue.first).to_contain_text("Cartera Morosa")
    shots.take(supervisor, "queue-live")
