"""`centralita customers import`: a CSV or XLSX file into a campaign's customer database."""

from __future__ import annotations

import csv
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import click
from sqlalchemy.exc import DBAPIError

from centralita.core.db import make_engine
from centralita.core.settings import (
    SettingsError,
    database_url_from_env,
    phone_region_from_env,
    redact_url,
)
from centralita.customers.importer import ImportHooks, ImportMode, ImportRefused, import_customers
from centralita.customers.parsing import CustomerParser, Rejected, RowWarning
from centralita.customers.phones import E164Phones
from centralita.customers.sources import Source, UnusableFile, open_source
from centralita.customers.values import cell_text


def register(group: click.Group) -> None:
    group.add_command(customers)


@click.group()
def customers() -> None:
    """Campaigns' customer databases."""


@customers.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--mode",
    type=click.Choice([m.value for m in ImportMode]),
    default=ImportMode.UPSERT.value,
    show_default=True,
    help="upsert: add new customers and update the others. replace: the file becomes the "
    "campaign's database; customers not in it are no longer found (chats under way keep them).",
)
@click.option(
    "--rejected-csv",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the rejected rows, with their line and reason, to this CSV file.",
)
def import_command(slug: str, file: Path, mode: str, rejected_csv: Path | None) -> None:
    """Import FILE (CSV or XLSX, header row required) into campaign SLUG.

    Columns: document (or documento, cedula, doc) is required; name (nombre), phone
    (telefono, celular) and document_type (tipo_documento) are optional; every other column
    is kept and visible in flows as customer.<column>. See docs/customer-files.md.
    """
    try:
        url = database_url_from_env()
        phones = E164Phones(phone_region_from_env())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    with ExitStack() as stack:
        try:
            source = stack.enter_context(open_source(file))
            parser = CustomerParser(source, phones)
        except UnusableFile as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        click.echo(f"{file.name}: {source.describe()}")
        click.echo(f"columns: {_columns(parser)}")
        rejected_spool = stack.enter_context(_spool())
        warning_spool = stack.enter_context(_spool())
        rejected_writer = None
        if rejected_csv is not None:
            try:
                out = stack.enter_context(rejected_csv.open("w", encoding="utf-8-sig", newline=""))
            except OSError as exc:
                raise click.BadParameter(
                    f"cannot write {rejected_csv}: {exc.strerror or exc}",
                    param_hint="--rejected-csv",
                ) from None
            rejected_writer = csv.writer(out, delimiter=source.delimiter or ",")
            rejected_writer.writerow(["line", "reason", *parser.columns.headers])

        def on_rejected(row: Rejected) -> None:
            rejected_spool.write(f"  line {row.line}: {_one_line(row.reason)}\n")
            if rejected_writer is not None:
                rejected_writer.writerow([row.line, row.reason, *map(cell_text, row.cells)])

        def on_warning(warning: RowWarning) -> None:
            warning_spool.write(f"  line {warning.line}: {_one_line(warning.message)}\n")

        engine = make_engine(url)
        stack.callback(engine.dispose)
        try:
            with _progress(source) as progress:
                counts = import_customers(
                    engine,
                    slug,
                    parser,
                    mode=ImportMode(mode),
                    hooks=ImportHooks(rejected=on_rejected, warning=on_warning, progress=progress),
                )
                progress(source.total or 0)
        except (UnusableFile, ImportRefused) as exc:
            raise click.ClickException(f"{file}: {exc}") from None
        except DBAPIError as exc:
            first = (str(exc.orig).strip().splitlines() or ["database error"])[0]
            raise click.ClickException(
                f"database {redact_url(url)}: {first} (did you run `centralita db upgrade`?)"
            ) from None
        click.echo(
            f"read {counts.read}, inserted {counts.inserted}, updated {counts.updated}, "
            f"unchanged {counts.unchanged}, retired {counts.retired}, "
            f"rejected {counts.rejected}, warnings {counts.warnings}"
        )
        _replay("rejected rows:", rejected_spool, counts.rejected)
        _replay("warnings:", warning_spool, counts.warnings)
        if rejected_csv is not None and counts.rejected:
            click.echo(f"rejected rows written to {rejected_csv}")


def _columns(parser: CustomerParser) -> str:
    columns = parser.columns
    headers = columns.headers
    fields = [
        f"{name} <- {headers[index]!r}"
        for name, index in (
            ("document", columns.document),
            ("name", columns.name),
            ("phone", columns.phone),
            ("document_type", columns.document_type),
        )
        if index is not None
    ]
    extra = ", ".join(key for _, key in columns.extras) or "none"
    ignored = (
        f"; ignored (no header): column {', '.join(str(i + 1) for i in columns.ignored)}"
        if columns.ignored
        else ""
    )
    return f"{', '.join(fields)}; extra: {extra}{ignored}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def _spool() -> Iterator[IO[str]]:
    # On disk, not in memory: a file with a million bad rows lists a million reasons.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        yield spool


def _replay(title: str, spool: IO[str], count: int) -> None:
    if not count:
        return
    click.echo(title)
    spool.seek(0)
    for line in spool:
        click.echo(line, nl=False)


class _Bar:
    """click's progress bar on a terminal (stderr), nothing otherwise."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.done = 0

    def __call__(self, position: int) -> None:
        if self.bar is not None and position > self.done:
            self.bar.update(position - self.done)
            self.done = position


@contextmanager
def _progress(source: Source) -> Iterator[_Bar]:
    if not sys.stderr.isatty() or not source.total:
        yield _Bar(None)
        return
    unit = "bytes" if source.kind == "csv" else "rows"
    with click.progressbar(
        length=source.total, label=f"importing ({unit})", file=sys.stderr
    ) as bar:
        yield _Bar(bar)
