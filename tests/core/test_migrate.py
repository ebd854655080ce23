from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from centralita.cli import main
from centralita.core.db import make_engine
from centralita.core.migrate import alembic_config, head_revision, upgrade
from centralita.core.models import DEADLINES, Base


def _schema_differences(url: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    result = upgrade(db_url)
    assert (result.before, result.after) == (None, head_revision())
    assert _schema_differences(db_url) == []


def test_the_schema_comparison_does_notice_differences(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_chats_wait_deadline"))
    engine.dispose()
    differences = _schema_differences(db_url)
    assert [d[0] for d in differences] == ["add_index"]


def test_the_timer_indexes_hold_only_chats_with_that_deadline(db_url: str) -> None:
    # Partial indexes (the comparison above does not look at an index's WHERE): a close or
    # an alert clears deadlines and must add no entry to those deadlines' indexes.
    upgrade(db_url)
    engine = make_engine(db_url)
    query = (
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = 'chats' AND indexname = :name"
        if engine.dialect.name == "postgresql"
        else "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
    )
    try:
        with engine.connect() as conn:
            for deadline in DEADLINES:
                found = conn.execute(text(query), {"name": f"ix_chats_{deadline}"}).scalar()
                assert found is not None and f"{deadline} IS NOT NULL" in found
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    upgrade(db_url)
    again = upgrade(db_url)
    assert not again.changed
    assert again.after == head_revision()


def test_downgrade_to_nothing_and_back(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    engine.dispose()
    assert upgrade(db_url).changed
    assert _schema_differences(db_url) == []


# -- `centralita db upgrade` -----------------------------------------------------------------


def test_db_upgrade_creates_then_leaves_the_schema(runner: CliRunner, db_url: str) -> None:
    first = runner.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": db_url})
    assert first.exit_code == 0, first.output
    assert first.output == (
        f"{db_url}: upgraded from an empty database to revision {head_revision()}\n"
    )
    second = runner.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": db_url})
    assert second.exit_code == 0, second.output
    assert second.output == f"{db_url}: already at revision {head_revision()}, nothing to do\n"
    assert _schema_differences(db_url) == []


def test_db_upgrade_defaults_to_the_sqlite_file_under_instance(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": None})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sqlite:///instance/centralita.db: upgraded")
    assert (tmp_path / "instance" / "centralita.db").is_file()


def test_db_upgrade_masks_the_password(runner: CliRunner, postgres_url: str) -> None:
    # The test server trusts local connections, so any password is accepted and ignored.
    url = make_url(postgres_url).set(password="s3cret").render_as_string(hide_password=False)
    result = runner.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert "root:***@127.0.0.1" in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://root:s3cret@127.0.0.1:1/test",
            "Error: cannot use the database at postgresql://root:***@127.0.0.1:1/test: "
            "connection failed:",
        ),
        (
            "sqlite:////nonexistent-dir/centralita.db",
            "Error: cannot use the database at sqlite:////nonexistent-dir/centralita.db: "
            "unable to open database file",
        ),
        ("mysql://u@h/db", "Error: DATABASE_URL: unsupported database 'mysql'."),
    ],
)
def test_db_upgrade_explains_an_unusable_database_in_one_line(
    runner: CliRunner, url: str, message: str
) -> None:
    result = runner.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output
