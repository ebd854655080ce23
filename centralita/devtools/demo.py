"""Demo data: campaigns, numbers, about a thousand customers and the people who log in.

`seed_demo` is what `centralita demo` runs before serving: it makes a fresh SQLite database
show the whole loop (a customer writes, the bot identifies them, hands off, an agent answers)
without any file to prepare. It is idempotent: campaigns, numbers and users are created when
missing and left alone otherwise (users get the demo password again, so the printed one
always works), and the customers go through the real importer in `upsert` mode, so a
second run finds them unchanged.

The customers are generated, not real: Spanish names, Colombian cédulas and mobile numbers,
with the columns the shipped flows read (`saldo`, `dias_mora` for collections; `producto`,
`saldo`, `proximo_pago` for customer service). A few are fixed, so the printed hints always
find someone.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from centralita.bot.loader import load_paths
from centralita.core.db import session_factory
from centralita.core.models import Campaign, Role, SenderNumber, User
from centralita.customers.campaigns import create_campaign
from centralita.customers.importer import (
    ImportCounts,
    ImportHooks,
    ImportMode,
    import_customers,
)
from centralita.customers.parsing import CustomerParser, Rejected
from centralita.customers.phones import E164Phones
from centralita.customers.sources import open_source
from centralita.routing.users import create_user

DEMO_PASSWORD = "demo1234"  # printed by `centralita demo`; demo databases only
SEED = 2026  # the same customers on every run and every machine


@dataclass(frozen=True)
class DemoCampaign:
    slug: str
    name: str
    kind: str  # "cobranza" or "servicio": which columns its customers have
    customers: int
    closing_message: str


@dataclass(frozen=True)
class DemoNumber:
    address: str
    flow: str
    campaigns: tuple[str, ...]


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    campaigns: tuple[str, ...]
    capacity: int = 5


CAMPAIGNS: tuple[DemoCampaign, ...] = (
    DemoCampaign(
        "cartera",
        "Cobranza Cartera Morosa",
        "cobranza",
        450,
        "Gracias por escribirnos. Si necesitas algo más, escríbenos por este mismo chat.",
    ),
    DemoCampaign(
        "tarjeta",
        "Tarjeta de Crédito",
        "servicio",
        330,
        "Gracias por comunicarte con Tarjeta de Crédito. ¡Que tengas un buen día!",
    ),
    DemoCampaign(
        "libranza",
        "Crédito de Libranza",
        "servicio",
        220,
        "Gracias por comunicarte con Crédito de Libranza. ¡Que tengas un buen día!",
    ),
)

NUMBERS: tuple[DemoNumber, ...] = (
    DemoNumber("whatsapp:+576015550100", "cobranza", ("cartera",)),
    DemoNumber("whatsapp:+576015550200", "servicio", ("tarjeta", "libranza")),
)

USERS: tuple[DemoUser, ...] = (
    DemoUser("admin@demo.centralita.co", "Administración Demo", Role.ADMIN, ()),
    DemoUser(
        "supervisora@demo.centralita.co",
        "Sofía Supervisora",
        Role.SUPERVISOR,
        ("cartera", "tarjeta", "libranza"),
    ),
    DemoUser("ana@demo.centralita.co", "Ana Restrepo", Role.AGENT, ("cartera",), 4),
    DemoUser("bruno@demo.centralita.co", "Bruno Cárdenas", Role.AGENT, ("cartera", "tarjeta")),
    DemoUser("carla@demo.centralita.co", "Carla Mejía", Role.AGENT, ("tarjeta", "libranza")),
)

# Customers the printed hints name: always present, whatever the generator does.
FIXED_CUSTOMERS: dict[str, list[dict[str, str]]] = {
    "cartera": [
        {
            "documento": "1.012.345.678",
            "nombre": "Ana María Rodríguez Pérez",
            "celular": "300 123 4567",
            "saldo": "1250000",
            "dias_mora": "45",
        },
        {
            "documento": "79.845.112",
            "nombre": "Jhon Fredy Castaño Ríos",
            "celular": "311 555 0112",
            "saldo": "3480000",
            "dias_mora": "120",
        },
    ],
    "tarjeta": [
        {
            "documento": "1.020.456.789",
            "nombre": "María Fernanda López Ortiz",
            "celular": "315 222 3344",
            "producto": "Tarjeta de crédito Clásica",
            "saldo": "890000",
            "proximo_pago": "10/03/2026",
        },
        {
            "documento": "52.345.678",
            "nombre": "Luz Dary Gómez Pardo",
            "celular": "320 444 5566",
            "producto": "Tarjeta de crédito Oro",
            "saldo": "1200000",
            "proximo_pago": "05/03/2026",
        },
    ],
    "libranza": [
        {
            "documento": "52.345.678",
            "nombre": "Luz Dary Gómez Pardo",
            "celular": "320 444 5566",
            "producto": "Crédito de libranza",
            "saldo": "3450000",
            "proximo_pago": "15/03/2026",
        },
    ],
}

HINTS = (
    ("whatsapp:+576015550100", "1012345678", "cobranza: Ana María, 45 días de mora"),
    ("whatsapp:+576015550100", "79845112", "cobranza: 120 días de mora (prioridad alta)"),
    ("whatsapp:+576015550200", "1020456789", "servicio: tarjeta de crédito"),
    ("whatsapp:+576015550200", "52345678", "servicio: en dos campañas (elige una)"),
)

# (first name, second names that go with it): no "Juliana Alberto".
_WOMEN = (
    "Ana", "Camila", "Daniela", "Diana", "Gloria", "Juliana", "Laura", "Luz", "María",
    "Mónica", "Paola", "Sandra", "Valentina", "Yolanda", "Natalia", "Catalina", "Marisol",
    "Yesenia",
)  # fmt: skip
_MEN = (
    "Andrés", "Carlos", "David", "Felipe", "Jhon", "Jorge", "Juan", "Luis", "Nelson",
    "Santiago", "Sebastián", "Óscar", "Édgar", "Alejandro", "Fabio", "Wilson", "Iván",
)  # fmt: skip
_SECOND_WOMEN = ("", "", "", "Fernanda", "Patricia", "Andrea", "Marcela")
_SECOND_MEN = ("", "", "", "Alberto", "José", "Eduardo", "Fernando")
_SURNAMES = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez",
    "Ramírez", "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Castro",
    "Ortiz", "Restrepo", "Zapata", "Cárdenas", "Ospina", "Gutiérrez", "Valencia", "Quintero",
    "Peña", "Castaño", "Londoño", "Arango", "Cifuentes", "Mejía", "Ríos", "Ángel", "Nieto",
)  # fmt: skip
_PRODUCTS = {
    "tarjeta": ("Tarjeta de crédito Clásica", "Tarjeta de crédito Oro", "Tarjeta Platinum"),
    "libranza": ("Crédito de libranza", "Libranza pensionados", "Compra de cartera"),
}
# Colombian mobile prefixes (3xx); all valid for phonenumbers' CO metadata.
_MOBILE_PREFIXES = ("300", "301", "304", "310", "311", "312", "313", "315", "316", "318",
                    "320", "321", "350")  # fmt: skip
_COBRANZA_COLUMNS = ("documento", "tipo_documento", "nombre", "celular", "saldo", "dias_mora")
_SERVICIO_COLUMNS = (
    "documento", "tipo_documento", "nombre", "celular", "producto", "saldo", "proximo_pago",
)  # fmt: skip


@dataclass
class DemoReport:
    """What the seed did, for `centralita demo` to print."""

    campaigns_created: list[str] = field(default_factory=list)
    numbers_created: list[str] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    imports: dict[str, ImportCounts] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)  # should stay empty: a generator bug
    password: str = DEMO_PASSWORD


class DemoError(RuntimeError):
    """The demo cannot be seeded (a shipped flow is missing or invalid)."""


def seed_demo(
    engine: Engine,
    *,
    flows_dir: Path,
    work_dir: Path,
    password: str = DEMO_PASSWORD,
    phone_region: str = "CO",
) -> DemoReport:
    """Seed the demo data into the (migrated) database of `engine`; files go in `work_dir`."""
    report = DemoReport(password=password)
    flows, _, _ = load_paths([flows_dir])
    missing = sorted({n.flow for n in NUMBERS if flows.current(n.flow) is None})
    if missing:
        raise DemoError(
            f"the demo needs the shipped flows {', '.join(missing)} in {flows_dir} "
            "(run from the project folder, or set FLOWS_DIR); `centralita validate` "
            "shows what is wrong"
        )
    sessions = session_factory(engine)
    with sessions.begin() as session:
        _campaigns(session, report)
        _numbers(session, report)
        _users(session, report, password)
    work_dir.mkdir(parents=True, exist_ok=True)
    phones = E164Phones(phone_region)
    for campaign in CAMPAIGNS:
        path = work_dir / f"clientes-{campaign.slug}.csv"
        write_customer_file(path, campaign)
        with open_source(path) as source:
            counts = import_customers(
                engine,
                campaign.slug,
                CustomerParser(source, phones),
                mode=ImportMode.UPSERT,
                hooks=_hooks(report, campaign.slug),
            )
        report.imports[campaign.slug] = counts
    return report


def _hooks(report: DemoReport, slug: str) -> ImportHooks:
    def rejected(row: Rejected) -> None:
        report.rejected.append(f"{slug} line {row.line}: {row.reason}")

    return ImportHooks(rejected=rejected)


def _campaigns(session: Session, report: DemoReport) -> None:
    existing = set(session.scalars(select(Campaign.slug)))
    for spec in CAMPAIGNS:
        if spec.slug in existing:
            continue
        create_campaign(session, spec.slug, spec.name, closing_message=spec.closing_message)
        report.campaigns_created.append(spec.slug)


def _numbers(session: Session, report: DemoReport) -> None:
    by_slug = {c.slug: c for c in session.scalars(select(Campaign))}
    for spec in NUMBERS:
        number = session.scalar(select(SenderNumber).where(SenderNumber.address == spec.address))
        if number is not None:
            continue
        session.add(
            SenderNumber(
                address=spec.address,
                flow_id=spec.flow,
                campaigns=[by_slug[slug] for slug in spec.campaigns],
            )
        )
        report.numbers_created.append(spec.address)
    session.flush()


def _users(session: Session, report: DemoReport, password: str) -> None:
    by_slug = {c.slug: c for c in session.scalars(select(Campaign))}
    for spec in USERS:
        user = session.scalar(select(User).where(User.email == spec.email))
        if user is not None:
            # The password printed must work, whatever someone changed it to since.
            user.password_hash = generate_password_hash(password)
            user.active = True
            continue
        create_user(
            session,
            spec.email,
            name=spec.name,
            role=spec.role,
            password=password,
            campaigns=[by_slug[slug] for slug in spec.campaigns],
            capacity=spec.capacity,
        )
        report.users_created.append(spec.email)


def write_customer_file(path: Path, campaign: DemoCampaign) -> None:
    """The campaign's generated customer file, as a person would export it: `;`-separated,
    documents with and without dots, phones as typed locally."""
    columns = _COBRANZA_COLUMNS if campaign.kind == "cobranza" else _SERVICIO_COLUMNS
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, delimiter=";", extrasaction="ignore")
        writer.writeheader()
        for row in customer_rows(campaign):
            writer.writerow(row)


def customer_rows(campaign: DemoCampaign) -> Iterator[dict[str, str]]:
    """The fixed customers, then generated ones up to `campaign.customers`, all distinct."""
    fixed = FIXED_CUSTOMERS.get(campaign.slug, [])
    seen = {row["documento"].replace(".", "") for row in fixed}
    for row in fixed:
        yield {"tipo_documento": "CC", **row}
    # One generator per campaign: adding a campaign does not change the others' customers.
    rng = random.Random(f"{SEED}:{campaign.slug}")
    made = len(fixed)
    while made < campaign.customers:
        document = str(rng.randint(10_000_000, 1_299_999_999))
        if document in seen:
            continue
        seen.add(document)
        made += 1
        row = {
            "documento": _dotted(document) if rng.random() < 0.5 else document,
            "tipo_documento": "CC",
            "nombre": _name(rng),
            "celular": _mobile(rng),
            "saldo": str(rng.randrange(150_000, 25_000_000, 1_000)),
        }
        if campaign.kind == "cobranza":
            row["dias_mora"] = str(rng.choice((5, 12, 30, 45, 61, 75, 90, 120, 180, 240)))
        else:
            row["producto"] = rng.choice(_PRODUCTS.get(campaign.slug, ("Producto",)))
            due = date(2026, 3, 1) + timedelta(days=rng.randrange(0, 60))
            row["proximo_pago"] = due.strftime("%d/%m/%Y")
        yield row


def _dotted(document: str) -> str:
    groups: list[str] = []
    while document:
        groups.insert(0, document[-3:])
        document = document[:-3]
    return ".".join(groups)


def _name(rng: random.Random) -> str:
    woman = rng.random() < 0.5
    first = rng.choice(_WOMEN if woman else _MEN)
    second = rng.choice(_SECOND_WOMEN if woman else _SECOND_MEN)
    given = f"{first} {second}" if second else first
    return f"{given} {rng.choice(_SURNAMES)} {rng.choice(_SURNAMES)}"


def _mobile(rng: random.Random) -> str:
    prefix = rng.choice(_MOBILE_PREFIXES)
    rest = f"{rng.randrange(0, 10_000_000):07d}"
    return f"{prefix} {rest[:3]} {rest[3:]}"


def summary_lines(
    report: DemoReport, base_url: str, users: Sequence[DemoUser] = USERS
) -> list[str]:
    """What a newcomer needs: where to go, who to log in as, what to type."""
    lines = [
        "Centralita demo",
        "",
        f"  Bandeja de agentes: {base_url}/inbox",
        f"  Supervisión:        {base_url}/supervise",
        f"  Administración:     {base_url}/admin",
        f"  Simulador de cliente (teléfono): {base_url}/simulator",
        "",
        f"  Usuarios (contraseña para todos: {report.password}):",
    ]
    for user in users:
        served = ", ".join(user.campaigns) or "todas las campañas"
        lines.append(f"    {user.role.value:<10} {user.email:<34} {served}")
    lines += ["", "  Prueba en el simulador (número de destino, documento):"]
    for number, document, what in HINTS:
        lines.append(f"    {number}  {document:<11} {what}")
    imported = ", ".join(
        f"{slug} {counts.inserted + counts.updated + counts.unchanged}"
        for slug, counts in report.imports.items()
    )
    lines += ["", f"  Clientes por campaña: {imported}"]
    return lines
