"""`centralita numbers add|list` and `centralita sweep` against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.cli import main
from centralita.core.models import Campaign, SenderNumber


@pytest.fixture
def env(db_url: str, flows_dir: Path, seeded: sessionmaker[Session]) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "FLOWS_DIR": str(flows_dir), "SECRET_KEY": "x"}


def test_numbers_add_maps_a_number_to_a_flow_and_campaigns(
    env: dict[str, str], seeded: sessionmaker[Session]
) -> None:
    with seeded.begin() as session:
        session.add(Campaign(slug="preventiva", name="Preventiva"))
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "numbers",
            "add",
            "+5716007777",
            "--flow",
            "saludo",
            "--campaign",
            "castigada",
            "--campaign",
            "preventiva",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "added +5716007777: flow saludo, serves castigada, preventiva" in result.output
    # Adding it again changes it.
    result = runner.invoke(main, ["numbers", "add", "+5716007777", "--flow", "saludo"], env=env)
    assert "updated +5716007777: flow saludo, serves all campaigns" in result.output
    with seeded() as session:
        number = session.scalars(
            select(SenderNumber).where(SenderNumber.address == "+5716007777")
        ).one()
        assert number.campaigns == []
    listing = runner.invoke(main, ["numbers", "list"], env=env)
    assert "+5716007777\tflow saludo\tall campaigns" in listing.output


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["whatsapp:3001234567", "--flow", "saludo"], "is not whatsapp:+E164"),
        (["+5716007777", "--flow", "nope"], "no valid flow 'nope'"),
        (["+5716007777", "--flow", "saludo", "--campaign", "ghost"], "no campaign 'ghost'"),
    ],
)
def test_numbers_add_refuses_bad_input_and_says_why(
    env: dict[str, str], seeded: sessionmaker[Session], args: list[str], complaint: str
) -> None:
    result = CliRunner().invoke(main, ["numbers", "add", *args], env=env)
    assert result.exit_code != 0
    assert complaint in result.output
    with seeded() as session:
        assert session.scalars(select(SenderNumber.address)).all() == ["whatsapp:+5716001234"]


def test_sweep_reports_what_it_did_and_checks_its_time(env: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", "--now", "2026-03-02T15:00:00+00:00"], env=env)
    assert result.exit_code == 0, result.output
    assert "sweep as of 2026-03-02T15:00:00+00:00" in result.output
    assert "bot silence timers fired: 0" in result.output
    bad = runner.invoke(main, ["sweep", "--now", "2026-03-02 15:00"], env=env)
    assert bad.exit_code == 2 and "has no offset" in bad.output
    worse = runner.invoke(main, ["sweep", "--now", "ayer"], env=env)
    assert worse.exit_code == 2 and "is not an ISO 8601 time" in worse.output
