"""Customer files and imports: helpers to write files and run imports on the test databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.cli import main
from centralita.core.models import Campaign, Customer

WriteFile = Callable[..., Path]
RunImport = Callable[..., Result]


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """Write text to a file in `encoding` (default UTF-8); returns its path."""

    def write(text: str, name: str = "clientes.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


@pytest.fixture
def campaign(sessions: sessionmaker[Session]) -> str:
    """A campaign `castigada` (and `ventas`, to check imports stay in theirs)."""
    with sessions.begin() as session:
        session.add_all(
            [
                Campaign(slug="castigada", name="Cartera castigada"),
                Campaign(slug="ventas", name="V"),
            ]
        )
    return "castigada"


@pytest.fixture
def run_import(runner: CliRunner, db_url: str, engine: Engine) -> RunImport:
    """`centralita customers import SLUG FILE ARGS...` on the test database."""

    def run(slug: str, path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(
            main,
            ["customers", "import", slug, str(path), *args],
            env={"DATABASE_URL": db_url, **(env or {})},
        )

    return run


def customers_of(sessions: sessionmaker[Session], slug: str = "castigada") -> dict[str, Customer]:
    """The campaign's customers (retired too) by document."""
    with sessions() as session:
        rows = session.scalars(
            select(Customer).join(Campaign).where(Campaign.slug == slug).order_by(Customer.id)
        ).all()
        return {row.document: row for row in rows}


def counts_line(output: str) -> dict[str, int]:
    """The `read N, inserted N, ...` line of an import's output, as a dict."""
    line = next(line for line in output.splitlines() if line.startswith("read "))
    return {name: int(value) for name, value in (part.split() for part in line.split(", "))}
