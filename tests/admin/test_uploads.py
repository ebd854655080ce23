"""Uploading a campaign's customer file from the admin pages: the real importer, progress,
the rejected rows on the page and as a CSV download, files that cannot be customers."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import select

from centralita.core.models import Customer, utcnow
from centralita.core.runtime import Runtime
from centralita.web.admin import uploads
from tests.admin.conftest import World, page_token, sign_in

GOOD_AND_BAD = (
    "documento;nombre;celular;saldo\n"
    "1.012.345.678;Ana Pérez;300 123 4567;1.250.000\n"  # already in the campaign: updated
    "79.456.123;José Gómez;+57 310 555 1234;850000,50\n"
    ";Sin Documento;3001112233;10\n"  # line 4: no document
    "52.111.222;Luz Díaz;;\n"
    "79.456.123;José Repetido;;\n"  # line 6: the same document again
    "1,2E+09;Excel Cortó;;\n"  # line 7: scientific notation
)


@pytest.fixture
def admin_client(web_client: FlaskClient, world: World) -> FlaskClient:
    sign_in(web_client, world.emails["admin"])
    return web_client


def _upload(
    client: FlaskClient, content: bytes, filename: str, mode: str = "upsert"
) -> tuple[int, str, str | None]:
    token = page_token(client, "/admin/campaigns/castigada/upload")
    response = client.post(
        "/admin/campaigns/castigada/upload",
        data={"csrf_token": token, "mode": mode, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True), response.headers.get("Location")


def test_a_file_with_bad_rows_imports_the_rest_and_lists_them(
    admin_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    status, _, location = _upload(admin_client, GOOD_AND_BAD.encode("utf-8"), "clientes.csv")
    assert status == 302 and location is not None and location.startswith("/admin/uploads/")
    page = admin_client.get(location).get_data(as_text=True)
    assert "Terminado" in page
    counts = page.split('id="upload-counts"')[1].split("</dl>")[0]
    assert 'data-count="read">6<' in counts
    assert 'data-count="inserted">2<' in counts and 'data-count="updated">1<' in counts
    assert 'data-count="rejected">3<' in counts
    rejected = page.split('id="rejected-table"')[1].split("</table>")[0]
    lines = [cell.split("</td>")[0] for cell in rejected.split("<tr><td>")[1:]]
    assert lines == ["4", "6", "7"]
    assert "no document" in rejected and "scientific notation" in rejected
    assert "line 3" in rejected  # the duplicate names the first occurrence

    with web_rt.sessions() as session:
        docs = set(
            session.scalars(
                select(Customer.document).where(Customer.campaign_id == world.campaigns["a"])
            )
        )
        assert {"1012345678", "79456123", "52111222"} <= docs
        jose = session.scalars(select(Customer).where(Customer.document == "79456123")).one()
        assert jose.phone == "+573105551234" and jose.extra["saldo"] == 850000.5

    download = admin_client.get(location + "/rejected.csv")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(
        csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    assert rows[0] == ["line", "reason", "documento", "nombre", "celular", "saldo"]
    assert [r[0] for r in rows[1:]] == ["4", "6", "7"]
    assert rows[2][3] == "José Repetido"

    listed = admin_client.get("/admin/campaigns/castigada").get_data(as_text=True)
    assert "clientes.csv" in listed.split('id="customers"')[1]


def test_progress_is_reported_as_json(admin_client: FlaskClient) -> None:
    _, _, location = _upload(admin_client, GOOD_AND_BAD.encode("utf-8"), "clientes.csv")
    assert location is not None
    status = admin_client.get(location + "/status").get_json()
    assert status["state"] == "done" and status["percent"] == 100 and status["finished"]
    assert status["counts"]["rejected"] == 3 and not status["stale"]


def test_an_xlsx_file(admin_client: FlaskClient, web_rt: Runtime) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Cédula", "Nombre", "Saldo"])
    sheet.append(["80.123.456", "Pedro Páramo", 990000])
    sheet.append(["x", "Malo", 1])
    content = io.BytesIO()
    book.save(content)
    status, _, location = _upload(admin_client, content.getvalue(), "base.xlsx", mode="replace")
    assert status == 302 and location is not None
    page = admin_client.get(location).get_data(as_text=True)
    assert 'data-count="inserted">1<' in page and 'data-count="rejected">1<' in page
    assert 'data-count="retired">1<' in page  # replace: the campaign's previous customer
    with web_rt.sessions() as session:
        pedro = session.scalars(select(Customer).where(Customer.document == "80123456")).one()
        assert pedro.extra["saldo"] == 990000


@pytest.mark.parametrize(
    ("content", "filename", "words"),
    [
        (b"%PDF-1.4 ...", "clientes.pdf", "no es un archivo CSV ni XLSX"),
        (b"\xd0\xcf\x11\xe0 old excel", "clientes.xls", "Excel 97-2003"),
        (b"", "vacio.csv", "está vacío"),
        (b"nombre;saldo\nAna;10\n", "sin-documento.csv", "no document column"),
        (b"PK\x03\x04 not really a zip", "roto.xlsx", "roto.xlsx"),
    ],
)
def test_files_that_cannot_be_customers_are_refused_at_once(
    admin_client: FlaskClient, web_rt: Runtime, content: bytes, filename: str, words: str
) -> None:
    status, page, _ = _upload(admin_client, content, filename)
    assert status == 422
    error = page.split('id="upload-error"')[1].split("</p>")[0]
    assert words in error, error
    base = uploads.uploads_dir(web_rt.settings.storage_dir)
    assert not base.exists() or list(base.iterdir()) == []  # nothing kept


def test_no_file_chosen(admin_client: FlaskClient) -> None:
    token = page_token(admin_client, "/admin/campaigns/castigada/upload")
    response = admin_client.post(
        "/admin/campaigns/castigada/upload",
        data={"csrf_token": token, "mode": "upsert"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Elige el archivo de clientes" in response.get_data(as_text=True)


def test_uploading_needs_the_csrf_token(admin_client: FlaskClient) -> None:
    response = admin_client.post(
        "/admin/campaigns/castigada/upload",
        data={"mode": "upsert", "file": (io.BytesIO(GOOD_AND_BAD.encode()), "c.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


@pytest.mark.parametrize("upload_id", ["0" * 32, "..", "..%2F..%2Fetc", "a" * 31])
def test_unknown_uploads_are_not_found(admin_client: FlaskClient, upload_id: str) -> None:
    assert admin_client.get(f"/admin/uploads/{upload_id}").status_code == 404
    assert admin_client.get(f"/admin/uploads/{upload_id}/rejected.csv").status_code == 404


def test_an_import_whose_job_never_ran_can_be_started_again(
    admin_client: FlaskClient, web_rt: Runtime
) -> None:
    storage = web_rt.settings.storage_dir
    saved = uploads.save_upload(
        storage,
        campaign="castigada",
        mode=uploads.ImportMode.UPSERT,
        filename="perdido.csv",
        stream=io.BytesIO(GOOD_AND_BAD.encode()),
        by="root@x.co",
        now=utcnow() - timedelta(minutes=10),
    )  # no job enqueued: as if the process died right after saving
    location = f"/admin/uploads/{saved.id}"
    page = admin_client.get(location).get_data(as_text=True)
    assert "En espera" in page and "Reintentar" in page
    token = page_token(admin_client, location)
    response = admin_client.post(location + "/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Terminado" in admin_client.get(location).get_data(as_text=True)


def test_an_import_into_a_campaign_gone_meanwhile_says_so(web_rt: Runtime) -> None:
    storage = web_rt.settings.storage_dir
    saved = uploads.save_upload(
        storage,
        campaign="ya-no-existe",
        mode=uploads.ImportMode.UPSERT,
        filename="c.csv",
        stream=io.BytesIO(GOOD_AND_BAD.encode()),
        by="root@x.co",
    )
    done = uploads.run_upload(web_rt.engine, storage, saved.id)
    assert done.state == "failed" and done.error and "ya-no-existe" in done.error
    on_disk = json.loads((Path(storage) / "uploads" / saved.id / "status.json").read_text())
    assert on_disk["state"] == "failed"
