"""Imports into the database, on SQLite and PostgreSQL: upsert, replace, duplicates, lookups."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.lookup import DatabaseDirectory
from centralita.core.models import Chat, Contact, Customer
from centralita.customers import importer
from centralita.customers.campaigns import create_campaign
from centralita.customers.importer import (
    ImportCounts,
    ImportHooks,
    ImportMode,
    ImportRefused,
    import_customers,
    wants_parallel,
)
from centralita.customers.parsing import Rejected, RowWarning
from centralita.customers.phones import E164Phones
from centralita.customers.sources import UnusableFile, open_source

from .conftest import WriteFile, customers_of

FILE = (
    "Cédula;Nombre;Celular;Saldo;Vence\n"
    "1.012.345.678;Ana Pérez;300 123 4567;1.250.000;15/03/2026\n"
    "22222;Bo;123;99,5;\n"
    ";Nadie;;;\n"
    "33333;Carla;+57 310 000 0000;7;2026-01-31\n"
)


def run(
    engine: Engine,
    path: Path,
    mode: ImportMode = ImportMode.UPSERT,
    slug: str = "castigada",
    batch_rows: int = 10_000,
    parallel: bool = False,
) -> tuple[ImportCounts, list[Rejected], list[RowWarning]]:
    rejected: list[Rejected] = []
    warnings: list[RowWarning] = []
    with open_source(path) as source:
        from centralita.customers.parsing import CustomerParser

        parser = CustomerParser(source, E164Phones("CO"))
        counts = import_customers(
            engine,
            slug,
            parser,
            mode=mode,
            batch_rows=batch_rows,
            hooks=ImportHooks(rejected=rejected.append, warning=warnings.append),
            parallel=parallel,
        )
    return counts, rejected, warnings


def test_first_import_inserts_and_types(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    counts, rejected, warnings = run(engine, write_file(FILE, encoding="cp1252"))
    assert counts == ImportCounts(read=4, inserted=3, rejected=1, warnings=1)
    assert [(r.line, r.reason) for r in rejected] == [(4, "no document")]
    assert [w.line for w in warnings] == [3]
    found = customers_of(sessions)
    assert set(found) == {"1012345678", "22222", "33333"}
    ana = found["1012345678"]
    assert (ana.name, ana.phone, ana.retired_at) == ("Ana Pérez", "+573001234567", None)
    assert ana.extra == {"saldo": 1250000, "vence": "2026-03-15"}
    assert found["22222"].phone is None
    assert found["22222"].extra == {"saldo": 99.5, "vence": None}
    assert customers_of(sessions, "ventas") == {}


def test_upsert_updates_changed_rows_and_leaves_the_rest(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    run(engine, write_file(FILE))
    before = customers_of(sessions)
    again, _, _ = run(engine, write_file(FILE))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    changed = FILE.replace("Ana Pérez", "Ana P. Gómez") + "44444;Dora;;;\n"
    counts, _, _ = run(engine, write_file(changed, name="v2.csv"))
    assert (counts.inserted, counts.updated, counts.unchanged, counts.retired) == (1, 1, 2, 0)
    after = customers_of(sessions)
    assert after["1012345678"].name == "Ana P. Gómez"
    assert after["1012345678"].id == before["1012345678"].id
    assert after["1012345678"].updated_at > before["1012345678"].updated_at
    assert after["22222"].updated_at == before["22222"].updated_at  # not rewritten
    # Upsert never removes: a file with only one customer leaves the others alone.
    counts, _, _ = run(engine, write_file("doc\n55555\n", name="one.csv"))
    assert counts.retired == 0
    assert all(c.retired_at is None for c in customers_of(sessions).values())


@pytest.mark.parametrize("merge_rows", [3, 50_000], ids=["merges", "one-merge"])
def test_duplicate_documents_reject_the_later_rows_naming_the_first(
    engine: Engine,
    sessions: sessionmaker[Session],
    campaign: str,
    write_file: WriteFile,
    monkeypatch: pytest.MonkeyPatch,
    merge_rows: int,
) -> None:
    # PostgreSQL merges every PG_MERGE_ROWS rows: duplicates within one merge and across.
    monkeypatch.setattr(importer, "PG_MERGE_ROWS", merge_rows)
    text = (
        "doc;nombre\n"
        "11111;Primera\n"  # 2
        "22222;Otra\n"  # 3
        "11.111;Segunda\n"  # 4: same document once normalised
        "33333;Más\n"  # 5
        "11111;Tercera\n"  # 6
        "33-333;Repetida\n"  # 7
    )
    # Batches of 2 rows: duplicates within a batch and across batches.
    counts, rejected, _ = run(engine, write_file(text), batch_rows=2)
    assert [(r.line, r.reason) for r in rejected] == [
        (4, "duplicate document 11111 (first on line 2)"),
        (6, "duplicate document 11111 (first on line 2)"),
        (7, "duplicate document 33333 (first on line 5)"),
    ]
    assert list(rejected[0].cells) == ["11.111", "Segunda"]
    assert (counts.read, counts.inserted, counts.rejected) == (6, 3, 3)
    assert customers_of(sessions)["11111"].name == "Primera"


def test_rejects_are_reported_in_line_order_across_batches(
    engine: Engine, campaign: str, write_file: WriteFile
) -> None:
    rows = ["doc"]
    for i in range(40):
        rows.append("x" if i % 7 == 3 else ("10000" if i % 9 == 5 else str(20000 + i)))
    _, rejected, _ = run(engine, write_file("\n".join(rows) + "\n"), batch_rows=4)
    lines = [r.line for r in rejected]
    assert lines == sorted(lines)
    assert len([r for r in rejected if r.reason.startswith("duplicate")]) == 3


def _chat_with(session: Session, customer: Customer) -> int:
    contact = Contact(address="whatsapp:+573001234567", phone="+573001234567", channel="whatsapp")
    session.add(contact)
    session.flush()
    chat = Chat(
        contact_id=contact.id,
        number="whatsapp:+5716001234",
        campaign_id=customer.campaign_id,
        customer_id=customer.id,
    )
    session.add(chat)
    session.flush()
    return chat.id


def test_replace_retires_the_absent_and_chats_keep_them(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    run(engine, write_file(FILE))
    with sessions.begin() as session:
        ana = session.scalars(select(Customer).where(Customer.document == "1012345678")).one()
        chat_id = _chat_with(session, ana)
    directory = DatabaseDirectory(sessions)
    assert [r.name for r in directory.find("1012345678", None)] == ["Ana Pérez"]

    replacement = "documento;nombre\n22222;Bo Nuevo\n44444;Dora\n"
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with open_source(write_file(replacement, name="new.csv")) as source:
        from centralita.customers.parsing import CustomerParser

        counts = import_customers(
            engine,
            campaign,
            CustomerParser(source, E164Phones("CO")),
            mode=ImportMode.REPLACE,
            now=now,
        )
    assert (counts.inserted, counts.updated, counts.unchanged, counts.retired) == (1, 1, 0, 2)
    found = customers_of(sessions)
    assert found["1012345678"].retired_at == now
    assert found["33333"].retired_at == now
    assert found["22222"].retired_at is None
    assert found["22222"].extra == {}  # the new file's columns, not the old ones
    # Lookups no longer find the retired; the chat still has its customer.
    assert directory.find("1012345678", None) == []
    assert [r.name for r in directory.find("22222", None)] == ["Bo Nuevo"]
    with sessions() as session:
        chat = session.get(Chat, chat_id)
        assert chat is not None and chat.customer is not None
        assert chat.customer.name == "Ana Pérez"

    # Importing Ana again brings her back, same row.
    counts, _, _ = run(engine, write_file("doc;nombre\n1012345678;Ana Pérez\n", name="back.csv"))
    assert (counts.inserted, counts.updated) == (0, 1)
    back = customers_of(sessions)["1012345678"]
    assert back.retired_at is None and back.id == found["1012345678"].id
    assert [r.name for r in directory.find("1012345678", None)] == ["Ana Pérez"]
    # Other campaigns are never touched by a replace.
    assert customers_of(sessions, "ventas") == {}


def test_replace_leaves_other_campaigns_alone(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    run(engine, write_file(FILE), slug="ventas")
    counts, _, _ = run(engine, write_file("doc\n99999\n", name="b.csv"), ImportMode.REPLACE)
    assert counts.retired == 0
    assert all(c.retired_at is None for c in customers_of(sessions, "ventas").values())


def test_replace_with_no_valid_row_changes_nothing(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    run(engine, write_file(FILE))
    with pytest.raises(ImportRefused, match="no valid rows in the file"):
        run(engine, write_file("doc;nombre\nN/A;x\n", name="bad.csv"), ImportMode.REPLACE)
    assert all(c.retired_at is None for c in customers_of(sessions).values())


def test_unknown_campaign(engine: Engine, campaign: str, write_file: WriteFile) -> None:
    with pytest.raises(ImportRefused, match="no campaign 'nope': create it first"):
        run(engine, write_file(FILE), slug="nope")


def test_a_file_that_breaks_midway_imports_nothing_in_replace_mode(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    run(engine, write_file(FILE))
    old_limit = csv.field_size_limit(50)
    try:
        text = (
            "doc;nombre\n" + "".join(f"{50000 + i};n\n" for i in range(30)) + '60000;"' + "x" * 80
        )
        with pytest.raises(UnusableFile, match="field larger than field limit"):
            run(engine, write_file(text, name="broken.csv"), ImportMode.REPLACE, batch_rows=5)
    finally:
        csv.field_size_limit(old_limit)
    found = customers_of(sessions)
    assert set(found) == {"1012345678", "22222", "33333"}
    assert all(c.retired_at is None for c in found.values())


def test_sqlite_upsert_commits_in_chunks_postgresql_in_one(
    engine: Engine,
    sessions: sessionmaker[Session],
    campaign: str,
    write_file: WriteFile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer, "COMMIT_EVERY", 3)
    text = "doc\n" + "".join(f"{70000 + i}\n" for i in range(10)) + "70000\n"
    counts, rejected, _ = run(engine, write_file(text), batch_rows=2)
    assert (counts.inserted, counts.rejected) == (10, 1)
    assert rejected[0].reason == "duplicate document 70000 (first on line 2)"
    # Run again: the temporary table of the first import is gone, nothing is left behind.
    counts, _, _ = run(engine, write_file(text), batch_rows=2)
    assert (counts.inserted, counts.unchanged) == (0, 10)


def test_text_that_copy_and_json_must_escape(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    text = (
        "doc;nombre;nota;tipo_documento\n"
        '11111;"Ana\\Tab\tLínea\nDos";"dice ""hola"" \\n \x00fin";C\\C\n'
    )
    counts, rejected, _ = run(engine, write_file(text))
    assert (counts.inserted, rejected) == (1, [])
    row = customers_of(sessions)["11111"]
    assert row.name == "Ana\\Tab\tLínea\nDos"
    assert row.document_type == "C\\C"
    assert row.extra["nota"] in {'dice "hola" \\n \x00fin', 'dice "hola" \\n fin'}


def _mixed_file(rows: int) -> str:
    """Rows of every kind: good, bad documents, duplicates (also across batches), bad phones,
    blank rows, extra columns of several types."""
    lines = ["Cédula;Nombre;Celular;Saldo;Vence;Ciudad"]
    for i in range(rows):
        document = "x" if i % 17 == 3 else ("1.000.000" if i % 23 == 5 else f"{2_000_000 + i}")
        phone = "123" if i % 11 == 0 else f"300 {i % 1000:03d} {i % 10000:04d}"
        lines.append(f"{document};Cliente {i};{phone};{i * 1000},5;{1 + i % 28}/03/2026;Bogotá")
        if i % 50 == 7:
            lines.append(";;;;;")
    return "\n".join(lines) + "\n"


def test_parsing_in_a_child_process_imports_the_same(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    with sessions.begin() as session:
        create_campaign(session, "otra", "Otra")
    path = write_file(_mixed_file(700))
    here = run(engine, path, batch_rows=64, parallel=False)
    there = run(engine, path, slug="otra", batch_rows=64, parallel=True)
    assert here == there
    counts, rejected, warnings = there
    assert (counts.inserted, counts.rejected) == (631, 69)  # 41 bad documents, 28 duplicates
    assert "duplicate document 1000000 (first on line 7)" in {r.reason for r in rejected}
    assert [r.line for r in rejected] == sorted(r.line for r in rejected)
    assert len(warnings) == 60  # bad phones of rows with a valid document
    mine, theirs = customers_of(sessions), customers_of(sessions, "otra")
    assert {d: (c.name, c.phone, c.extra) for d, c in mine.items()} == {
        d: (c.name, c.phone, c.extra) for d, c in theirs.items()
    }


def test_values_holding_the_packing_separators_cross_unchanged(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    """Batches cross to the writer with each column packed in one string (separated by the
    unit separator, rows' cells by the record separator): a name, a document type or a
    duplicate's cell holding those characters falls back to a list, nothing shifts."""
    with sessions.begin() as session:
        create_campaign(session, "otra", "Otra")
    text = (
        "doc;tipo documento;nombre;nota\n"
        "11111;CC;Ana\x1fMaría;uno\x1edos\n"
        "22222;C\x1fE;Bo;tres\n"
        "11111;CC;Otra vez\x1e;cuatro\x1fcinco\n"
        "33333;;Carla;\n"
    )
    path = write_file(text)
    here = run(engine, path, parallel=False)
    there = run(engine, path, slug="otra", parallel=True)
    assert here == there
    counts, rejected, _ = there
    assert (counts.inserted, counts.rejected) == (3, 1)
    assert rejected[0].line == 4
    assert list(rejected[0].cells) == ["11111", "CC", "Otra vez\x1e", "cuatro\x1fcinco"]
    for slug in ("castigada", "otra"):
        found = customers_of(sessions, slug)
        assert found["11111"].name == "Ana\x1fMaría"
        assert found["11111"].extra == {"nota": "uno\x1edos"}
        assert found["22222"].document_type == "C\x1fE"
        assert (found["33333"].document_type, found["33333"].phone) == (None, None)


def test_a_file_that_breaks_midway_in_the_child_process(
    engine: Engine, sessions: sessionmaker[Session], campaign: str, write_file: WriteFile
) -> None:
    run(engine, write_file(FILE))
    text = "doc;nombre\n" + "".join(f"{50000 + i};n\n" for i in range(30))
    text += '60000;"' + "x" * 200_000 + "\n"  # longer than csv's field limit
    with pytest.raises(UnusableFile, match="field larger than field limit"):
        run(engine, write_file(text), ImportMode.REPLACE, batch_rows=5, parallel=True)
    assert set(customers_of(sessions)) == {"1012345678", "22222", "33333"}


def test_large_files_are_parsed_in_a_child_process_when_a_second_core_is_free(
    write_file: WriteFile,
) -> None:
    from centralita.customers.parsing import CustomerParser

    path = write_file(_mixed_file(700))
    size = path.stat().st_size
    with open_source(path) as source:
        parser = CustomerParser(source, E164Phones("CO"))
        assert wants_parallel(parser, cores=2, from_bytes=size)
        assert not wants_parallel(parser, cores=2, from_bytes=size + 1)  # too small
        assert not wants_parallel(parser, cores=1, from_bytes=size)  # no core to spare
        # The default threshold: a file of a few hundred rows stays in this process.
        assert not wants_parallel(parser, cores=2)


def test_the_parsing_process_imports_no_database_library() -> None:
    # Its memory adds to the import's (200 MB budget for a million rows): parsing needs
    # neither SQLAlchemy, psycopg nor the web app.
    code = (
        "import sys, centralita.customers.parallel, centralita.customers.encoding; "
        "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'flask') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
