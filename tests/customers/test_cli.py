"""`centralita campaigns create|update|list` and `centralita customers import`, through click."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.cli import main
from centralita.core.models import AssignmentPolicy, Campaign

from .conftest import RunImport, WriteFile, counts_line, customers_of

FILE = (
    "Cédula;Nombre;Celular;Saldo\n"
    "1.012.345.678;Ana Pérez;300 123 4567;1.250.000\n"
    "22222;Bo;123;99,5\n"
    ";Nadie;;\n"
    "22.222;Bo otra vez;;\n"
)


def campaigns(runner: CliRunner, db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(main, ["campaigns", *args], env={"DATABASE_URL": db_url})
    return result.exit_code, result.stdout, result.stderr


# -- campaigns -------------------------------------------------------------------------------


def test_create_and_list(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    code, out, _ = campaigns(
        runner,
        db_url,
        "create",
        "cartera-castigada",
        "--name",
        "Cartera castigada",
        "--alert-after",
        "15m",
        "--close-after",
        "2h",
        "--closing-message",
        "Gracias por escribirnos",
        "--closing-template",
        "HX" + "a" * 32,
        "--timezone",
        "America/Lima",
    )
    assert code == 0, out
    assert out == (
        "created campaign cartera-castigada (Cartera castigada): alert after 15m, "
        "close after 2h, time zone America/Lima\n"
        "routing: least_load, manual assignment off, at most 6 chats per agent per minute, "
        "no reassignment for silence\n"
    )
    with sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (
            campaign.alert_after_seconds,
            campaign.close_after_seconds,
            campaign.closing_message,
            campaign.closing_template_sid,
            campaign.timezone,
        ) == (900, 7200, "Gracias por escribirnos", "HX" + "a" * 32, "America/Lima")
    assert campaigns(runner, db_url, "create", "ventas", "--name", "Ventas")[0] == 0
    code, out, _ = campaigns(runner, db_url, "list")
    assert code == 0
    assert out.splitlines() == [
        "cartera-castigada\tCartera castigada\t0 customers\talert 15m\tclose 2h\tAmerica/Lima",
        "ventas\tVentas\t0 customers\talert 30m\tclose 1d\tAmerica/Bogota",
    ]


def test_list_counts_current_customers(
    runner: CliRunner, db_url: str, run_import: RunImport, write_file: WriteFile
) -> None:
    campaigns(runner, db_url, "create", "castigada", "--name", "C")
    run_import("castigada", write_file(FILE))
    run_import("castigada", write_file("doc\n22222\n", name="b.csv"), "--mode", "replace")
    _, out, _ = campaigns(runner, db_url, "list")
    assert out.startswith("castigada\tC\t1 customers\t")


def test_list_without_campaigns(runner: CliRunner, db_url: str, engine: Engine) -> None:
    code, out, err = campaigns(runner, db_url, "list")
    assert (code, out) == (0, "")
    assert "no campaigns yet" in err


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["Cartera"], "SLUG", "'Cartera' is not a campaign slug"),
        (["con espacio"], "SLUG", "is not a campaign slug"),
        (["x-"], "SLUG", "is not a campaign slug"),
        (["ok", "--alert-after", "30"], "--alert-after", "'30' is not a duration"),
        (["ok", "--close-after", "0h"], "--close-after", "'0h' is zero"),
        (["ok", "--timezone", "Bogota"], "--timezone", "'Bogota' is not an IANA time zone"),
        (["ok", "--timezone", "../etc"], "--timezone", "is not an IANA time zone"),
        (["ok", "--closing-template", "abc"], "--closing-template", "not a Content template"),
        (["ok", "--closing-message", "  "], "--closing-message", "is empty"),
        (["ok", "--assignment-policy", "fastest"], "'--assignment-policy'", "'fastest' is not"),
        (
            ["ok", "--max-assignments-per-minute", "many"],
            "'--max-assignments-per-minute'",
            "not a valid integer",
        ),
        (
            ["ok", "--max-assignments-per-minute", "0"],
            "--max-assignments-per-minute",
            "must be 1 to 600",
        ),
        (["ok", "--reassign-after", "soon"], "--reassign-after", "'soon' is not a duration"),
        (["ok", "--reassign-after", "0m"], "--reassign-after", "'0m' is zero"),
    ],
)
def test_create_validations_name_the_option(
    runner: CliRunner, db_url: str, engine: Engine, args: list[str], option: str, message: str
) -> None:
    slug, *rest = args
    result = runner.invoke(
        main, ["campaigns", "create", slug, "--name", "N", *rest], env={"DATABASE_URL": db_url}
    )
    assert result.exit_code == 2
    assert f"Invalid value for {option}: " in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.output
    if slug == "ok":  # checked after the insert: the creation was rolled back
        assert campaigns(runner, db_url, "list")[1] == ""


def test_create_with_routing_options(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    code, out, err = campaigns(
        runner, db_url, "create", "ventas", "--name", "Ventas",
        "--assignment-policy", "round_robin", "--manual-assignment",
        "--max-assignments-per-minute", "3", "--reassign-after", "10m",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[1] == (
        "routing: round_robin, manual assignment on, at most 3 chats per agent per minute, "
        "reassign after 10m"
    )
    with sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (
            campaign.assignment_policy,
            campaign.manual_assignment,
            campaign.max_assignments_per_minute,
            campaign.reassign_after_seconds,
        ) == (AssignmentPolicy.ROUND_ROBIN, True, 3, 600)


def test_update_changes_only_what_is_given(
    runner: CliRunner, db_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    campaigns(runner, db_url, "create", "ventas", "--name", "Ventas", "--timezone", "America/Lima")
    code, out, err = campaigns(
        runner, db_url, "update", "ventas", "--assignment-policy", "round_robin",
        "--manual-assignment", "--max-assignments-per-minute", "2", "--reassign-after", "5m",
        "--alert-after", "10m",
    )  # fmt: skip
    assert code == 0, err
    assert out == (
        "updated campaign ventas (Ventas): alert after 10m, close after 1d, time zone "
        "America/Lima\n"
        "routing: round_robin, manual assignment on, at most 2 chats per agent per minute, "
        "reassign after 5m\n"
    )
    code, out, err = campaigns(
        runner, db_url, "update", "ventas", "--no-manual-assignment", "--reassign-after",
        "never", "--inactive", "--name", "Ventas 2",
    )  # fmt: skip
    assert code == 0, err
    with sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (
            campaign.name,
            campaign.active,
            campaign.timezone,
            campaign.alert_after_seconds,
            campaign.assignment_policy,
            campaign.manual_assignment,
            campaign.max_assignments_per_minute,
            campaign.reassign_after_seconds,
        ) == ("Ventas 2", False, "America/Lima", 600, AssignmentPolicy.ROUND_ROBIN, False, 2, None)
    assert out.startswith("updated campaign ventas (Ventas 2): alert after 10m, close after 1d,")
    assert ", INACTIVE\n" in out


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--timezone", "Lima"], "--timezone", "'Lima' is not an IANA time zone"),
        (["--max-assignments-per-minute", "601"], "--max-assignments-per-minute", "1 to 600"),
        (["--reassign-after", "pronto"], "--reassign-after", "'pronto' is not a duration"),
        (["--assignment-policy", "random"], "'--assignment-policy'", "'random' is not one of"),
        (["--name", " "], "--name", "the name must have 1 to 200 characters"),
    ],
)
def test_update_validations_name_the_option_and_change_nothing(
    runner: CliRunner,
    db_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    args: list[str],
    option: str,
    message: str,
) -> None:
    campaigns(runner, db_url, "create", "ventas", "--name", "Ventas")
    # Every other option given is valid, and is not applied either.
    code, _, err = campaigns(runner, db_url, "update", "ventas", "--alert-after", "1m", *args)
    assert code == 2
    assert f"Invalid value for {option}: " in err
    assert message in err
    with sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (campaign.alert_after_seconds, campaign.name) == (1800, "Ventas")


def test_update_an_unknown_campaign(runner: CliRunner, db_url: str, engine: Engine) -> None:
    code, out, err = campaigns(runner, db_url, "update", "nada", "--name", "N")
    assert (code, out) == (1, "")
    assert err == "Error: no campaign 'nada'; `centralita campaigns list` shows them\n"


def test_create_an_existing_slug(runner: CliRunner, db_url: str, engine: Engine) -> None:
    assert campaigns(runner, db_url, "create", "ventas", "--name", "Ventas")[0] == 0
    code, out, err = campaigns(runner, db_url, "create", "ventas", "--name", "Otra")
    assert (code, out) == (1, "")
    assert err == (
        "Error: campaign 'ventas' already exists; `centralita campaigns list` shows them\n"
    )


# -- customers import ------------------------------------------------------------------------


def test_import_prints_counts_rejects_and_warnings(
    run_import: RunImport,
    write_file: WriteFile,
    campaign: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    rejected_csv = tmp_path / "rechazados.csv"
    path = write_file(FILE, encoding="cp1252")
    result = run_import(campaign, path, "--rejected-csv", str(rejected_csv))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "clientes.csv: CSV, Windows-1252, delimiter ';'\n"
        "columns: document <- 'Cédula', name <- 'Nombre', phone <- 'Celular'; extra: saldo\n"
        "read 4, inserted 2, updated 0, unchanged 0, retired 0, rejected 2, warnings 1\n"
        "rejected rows:\n"
        "  line 4: no document\n"
        "  line 5: duplicate document 22222 (first on line 3)\n"
        "warnings:\n"
        "  line 3: phone '123' is not a valid number (default region CO): "
        "imported without a phone\n"
        f"rejected rows written to {rejected_csv}\n"
    )
    assert result.stderr == ""  # no progress bar when not on a terminal
    with rejected_csv.open(encoding="utf-8-sig", newline="") as out:
        assert list(csv.reader(out, delimiter=";")) == [
            ["line", "reason", "Cédula", "Nombre", "Celular", "Saldo"],
            ["4", "no document", "", "Nadie", "", ""],
            ["5", "duplicate document 22222 (first on line 3)", "22.222", "Bo otra vez", "", ""],
        ]
    assert set(customers_of(sessions)) == {"1012345678", "22222"}


def test_import_modes_from_the_command_line(
    run_import: RunImport, write_file: WriteFile, campaign: str, sessions: sessionmaker[Session]
) -> None:
    assert run_import(campaign, write_file(FILE)).exit_code == 0
    again = run_import(campaign, write_file(FILE))
    assert counts_line(again.stdout) == {
        "read": 4,
        "inserted": 0,
        "updated": 0,
        "unchanged": 2,
        "retired": 0,
        "rejected": 2,
        "warnings": 1,
    }
    replaced = run_import(
        campaign, write_file("doc;nombre\n33333;C\n", name="n.csv"), "--mode", "replace"
    )
    assert replaced.exit_code == 0, replaced.output
    assert counts_line(replaced.stdout)["retired"] == 2
    assert counts_line(replaced.stdout)["inserted"] == 1
    assert {d for d, c in customers_of(sessions).items() if c.retired_at is None} == {"33333"}


def test_import_xlsx(
    run_import: RunImport, campaign: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["documento", "nombre", "telefono", "saldo"])
    sheet.append([1012345678, "Ana", 3001234567, 1250000])
    sheet.append(["x", "Bad", None, None])
    path = tmp_path / "clientes.xlsx"
    book.save(path)
    result = run_import(campaign, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("clientes.xlsx: XLSX, first sheet\n")
    assert "  line 3: document 'x' is not a document number" in result.stdout
    ana = customers_of(sessions)["1012345678"]
    assert (ana.phone, ana.extra) == ("+573001234567", {"saldo": 1250000})


def test_import_default_phone_region(
    run_import: RunImport, write_file: WriteFile, campaign: str, sessions: sessionmaker[Session]
) -> None:
    path = write_file("doc,celular\n11111,55 1234 5678\n")
    result = run_import(campaign, path, env={"DEFAULT_PHONE_REGION": "MX"})
    assert result.exit_code == 0, result.output
    assert customers_of(sessions)["11111"].phone == "+525512345678"
    bad = run_import(campaign, path, env={"DEFAULT_PHONE_REGION": "Colombia"})
    assert bad.exit_code == 1
    assert "DEFAULT_PHONE_REGION: 'COLOMBIA' is not a region" in bad.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file or directory"),
        ("", "is empty: a header row is required"),
        ("nombre;telefono\nAna;300\n", "no document column: the header needs one named document"),
    ],
    ids=["missing", "empty", "no-document-column"],
)
def test_unusable_files_exit_1(
    run_import: RunImport,
    write_file: WriteFile,
    campaign: str,
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / "nope.csv" if content is None else write_file(content)
    result = run_import(campaign, path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_unknown_campaign_exits_1(
    run_import: RunImport, write_file: WriteFile, campaign: str
) -> None:
    path = write_file(FILE)
    result = run_import("nope", path)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}: no campaign 'nope': create it first with `centralita campaigns create`\n"
    )


def test_replace_with_nothing_valid_exits_1(
    run_import: RunImport, write_file: WriteFile, campaign: str, sessions: sessionmaker[Session]
) -> None:
    run_import(campaign, write_file(FILE))
    result = run_import(campaign, write_file("doc\nN/A\n", name="b.csv"), "--mode", "replace")
    assert result.exit_code == 1
    assert "no valid rows in the file: a replace would retire every customer" in result.stderr
    assert all(c.retired_at is None for c in customers_of(sessions).values())


def test_bad_mode_is_a_usage_error(
    run_import: RunImport, write_file: WriteFile, campaign: str
) -> None:
    result = run_import(campaign, write_file(FILE), "--mode", "merge")
    assert result.exit_code == 2
    assert "'merge' is not one of 'upsert', 'replace'" in result.stderr
