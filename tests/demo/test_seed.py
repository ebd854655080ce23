"""The demo seed on a fresh SQLite database, migrated as `centralita demo` does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from centralita.cli import main
from centralita.core.db import make_engine, session_factory
from centralita.core.migrate import upgrade
from centralita.core.models import Campaign, Customer, Role, SenderNumber, User
from centralita.devtools.demo import (
    DEMO_PASSWORD,
    HINTS,
    DemoError,
    seed_demo,
)
from centralita.routing.users import check_password

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def demo_engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_seed_makes_campaigns_numbers_customers_and_people(
    demo_engine: Engine, tmp_path: Path
) -> None:
    report = seed_demo(demo_engine, flows_dir=FLOWS, work_dir=tmp_path)
    assert report.rejected == []
    with session_factory(demo_engine)() as session:
        campaigns = {c.slug: c for c in session.scalars(select(Campaign))}
        assert set(campaigns) == {"cartera", "tarjeta", "libranza"}
        per_campaign = dict(
            session.execute(
                select(Campaign.slug, func.count(Customer.id))
                .join(Customer, Customer.campaign_id == Campaign.id)
                .group_by(Campaign.slug)
            ).all()
        )
        assert sum(per_campaign.values()) == 1000
        assert all(count >= 200 for count in per_campaign.values())
        # Imported through the real importer: documents normalised, phones in E.164, the
        # columns the flows read kept.
        ana = session.scalar(select(Customer).where(Customer.document == "1012345678"))
        assert ana is not None and ana.campaign.slug == "cartera"
        assert ana.phone == "+573001234567"
        assert ana.extra["saldo"] == 1250000 and ana.extra["dias_mora"] == 45
        phones = session.scalars(select(Customer.phone)).all()
        assert all(p is not None and p.startswith("+573") and len(p) == 13 for p in phones)
        numbers = {n.address: n for n in session.scalars(select(SenderNumber))}
        assert {n.flow_id for n in numbers.values()} == {"cobranza", "servicio"}
        assert [c.slug for c in numbers["whatsapp:+576015550200"].campaigns] == [
            "libranza",
            "tarjeta",
        ]
        users = session.scalars(select(User)).all()
        roles = Counter(u.role for u in users)
        assert roles[Role.ADMIN] == 1 and roles[Role.SUPERVISOR] == 1 and roles[Role.AGENT] >= 2
        assert all(check_password(u, DEMO_PASSWORD) for u in users)
        # Every campaign has someone to answer its chats.
        for slug in campaigns:
            assert any(
                u.role == Role.AGENT and slug in {c.slug for c in u.campaigns} for u in users
            )
    # The hints the demo prints find someone.
    with session_factory(demo_engine)() as session:
        for _, document, _ in HINTS:
            assert session.scalar(select(Customer.id).where(Customer.document == document))


def test_seed_again_changes_nothing_and_restores_passwords(
    demo_engine: Engine, tmp_path: Path
) -> None:
    seed_demo(demo_engine, flows_dir=FLOWS, work_dir=tmp_path)
    sessions = session_factory(demo_engine)
    with sessions.begin() as session:
        admin = session.scalars(select(User).where(User.role == Role.ADMIN)).one()
        admin.password_hash = "changed"
    again = seed_demo(demo_engine, flows_dir=FLOWS, work_dir=tmp_path)
    assert again.campaigns_created == again.numbers_created == again.users_created == []
    assert {slug: c.unchanged for slug, c in again.imports.items()} == {
        "cartera": 450,
        "tarjeta": 330,
        "libranza": 220,
    }
    assert all(c.inserted == c.updated == 0 for c in again.imports.values())
    with sessions() as session:
        assert session.scalar(select(func.count(Customer.id))) == 1000
        assert session.scalar(select(func.count(Campaign.id))) == 3
        admin = session.scalars(select(User).where(User.role == Role.ADMIN)).one()
        assert check_password(admin, DEMO_PASSWORD)


def test_seed_without_the_shipped_flows_says_where_it_looked(
    demo_engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(DemoError, match=r"cobranza, servicio in .*nowhere"):
        seed_demo(demo_engine, flows_dir=tmp_path / "nowhere", work_dir=tmp_path)


def test_demo_command_seed_only_prints_people_and_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.chdir(FLOWS.parent)
    env = {"DATABASE_URL": url, "STORAGE_DIR": str(tmp_path / "storage"), "REDIS_URL": ""}
    result = CliRunner().invoke(main, ["demo", "--seed-only", "--port", "5055"], env=env)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5055/simulator" in result.output
    assert "http://127.0.0.1:5055/inbox" in result.output
    assert f"contraseña para todos: {DEMO_PASSWORD}" in result.output
    assert "supervisora@demo.centralita.co" in result.output
    assert "cartera 450, tarjeta 330, libranza 220" in result.output
    assert (tmp_path / "storage" / "demo" / "clientes-cartera.csv").exists()
    again = CliRunner().invoke(main, ["demo", "--seed-only"], env=env)
    assert again.exit_code == 0, again.output


def test_demo_command_refuses_a_bad_database_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["demo", "--seed-only"], env={"DATABASE_URL": "mysql://x/y", "REDIS_URL": ""}
    )
    assert result.exit_code == 1
    assert "DATABASE_URL: unsupported database 'mysql'" in result.output


def test_demo_command_no_seed_only_migrates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    monkeypatch.chdir(FLOWS.parent)
    env = {"DATABASE_URL": url, "STORAGE_DIR": str(tmp_path / "storage"), "REDIS_URL": ""}
    result = CliRunner().invoke(main, ["demo", "--seed-only", "--no-seed"], env=env)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            assert session.scalar(select(func.count(Campaign.id))) == 0
    finally:
        engine.dispose()
